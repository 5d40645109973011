from dedupaudit.cli.main import run

run()
