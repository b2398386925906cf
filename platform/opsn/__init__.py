"""The Django project of the opsn platform (settings, URL maps, WSGI, command line)."""
