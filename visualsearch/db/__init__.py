"""PostgreSQL backend that starts the embedded server and checks the database on first connection.

Set as ``DATABASES['default']['ENGINE'] = 'visualsearch.db'`` by visualsearch/database.py.
"""
