from django.urls import path

from opsn.accounts import oidc

app_name = "accounts"

urlpatterns = [
    path("connexion/", oidc.SignIn.as_view(), name="login"),
    path("oidc/callback/", oidc.Callback.as_view(), name="oidc-callback"),
    path("deconnexion/", oidc.SignOutView.as_view(), name="logout"),
]
