from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

app_name = "accounts"

urlpatterns = [
    path("connexion/", auth_views.LoginView.as_view(template_name="accounts/login.html",
                                                    redirect_authenticated_user=True),
         name="login"),
    path("deconnexion/", auth_views.LogoutView.as_view(next_page="/"), name="logout"),
    path("activer/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="accounts/activate.html",
        success_url=reverse_lazy("accounts:login")), name="activate"),
]
