mailer_script_test(articles.cli articles/cli.py LABELS integration TIMEOUT 120)
