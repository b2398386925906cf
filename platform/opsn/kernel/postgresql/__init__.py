"""The database ENGINE of every database: django-tenants' backend whose connections are
recycled after they have entered a number of distinct schemas (see ``base``)."""
