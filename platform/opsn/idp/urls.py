from django.urls import path
from oauth2_provider import views as oauth

from opsn.idp import views

app_name = "idp"

urlpatterns = [
    path("", views.home, name="home"),
    path("connexion/", views.sign_in, name="sign-in"),
    path("connexion/code/", views.second_factor, name="code"),
    path("activer/<uidb64>/<token>/", views.Activate.as_view(), name="activate"),
    path("activer/termine/", views.activated, name="activated"),
]
# The protocol's endpoints, under the names django-oauth-toolkit reverses.
oauth_urlpatterns = [
    path("authorize/", views.Authorize.as_view(), name="authorize"),
    path("token/", views.Token.as_view(), name="token"),
    path(".well-known/openid-configuration", oauth.ConnectDiscoveryInfoView.as_view(),
         name="oidc-connect-discovery-info"),
    path(".well-known/jwks.json", oauth.JwksInfoView.as_view(), name="jwks-info"),
    path("userinfo/", oauth.UserInfoView.as_view(), name="user-info"),
    path("logout/", views.Logout.as_view(), name="rp-initiated-logout"),
]
