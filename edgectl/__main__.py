from edgectl.cli.main import app

app(prog_name="edgectl")
