from budgetnet.cli import main

main()
