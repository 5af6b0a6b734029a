"""Data: the embedded MNIST, the IDX reader and the fixed splits."""
