# A page that greets its visitor, cached with Django three ways. The name
# is read from a plain cookie, as the workshop does. (The session
# middleware adds "Vary: Cookie" whenever a view reads request.session,
# which protects cache_page; a plain cookie gets no such help.)
from django.shortcuts import render
from django.views.decorators.cache import cache_control, cache_page
from django.views.decorators.vary import vary_on_cookie


# WRONG: cache_page keys on the URL and on the headers the response names
# in Vary. Nothing says this page depends on the cookie, so the first
# visitor's greeting is stored and served to everyone.
@cache_page(120)
def account_wrong(request):
    return render(request, "account.html", {"name": request.COOKIES.get("name")})


# RIGHT: Vary: Cookie makes cache_page keep one entry per Cookie header,
# which is per user. cache_page must be the outer decorator, so it sees
# the Vary header. (Adding cache_control(private=True) here would make
# cache_page store nothing: it skips private responses.)
@cache_page(120)
@vary_on_cookie
def account(request):
    return render(request, "account.html", {"name": request.COOKIES.get("name")})


# RIGHT, and shared: the view itself is not cached; the template caches the
# part that is the same for everyone ({% cache %} in account_spliced.html)
# and writes the greeting outside it, on every request.
@cache_control(private=True, no_store=True)
def account_spliced(request):
    return render(request, "account_spliced.html", {"name": request.COOKIES.get("name")})
