from ninja import NinjaAPI

api = NinjaAPI(title="opsn — API de la commune", version="1", urls_namespace="commune_api")
