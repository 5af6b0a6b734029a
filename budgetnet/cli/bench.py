import typer

app = typer.Typer(help="Benchmarks: figures and ratios against a baseline measured in the same run.")
