"""The search: definitions, the general family, successive halving, storage, the run, its report and benchmark."""
