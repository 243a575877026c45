from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.vary import vary_on_headers


@cache_control(public=True, max_age=0, s_maxage=30,
               stale_while_revalidate=30, stale_if_error=600)
def news(request):
    return render(request, "news.html")


@cache_control(private=True, max_age=30)
def account(request):
    return render(request, "account.html")


@cache_control(no_store=True)
def checkout(request):
    return render(request, "checkout.html")


@cache_control(public=True, max_age=0, s_maxage=30)
@vary_on_headers("Accept-Language")
def greeting(request):
    return render(request, "greeting.html")
