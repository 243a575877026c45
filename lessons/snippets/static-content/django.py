# A page the browser may reuse for an hour without asking the server.
from django.shortcuts import render
from django.utils.cache import patch_response_headers
from django.views.decorators.cache import cache_control
from django.views.decorators.vary import vary_on_cookie


@cache_control(public=True)
@vary_on_cookie                                      # the page shows the mode the cookie picked
def static_content(request):
    response = render(request, "static_content.html")
    patch_response_headers(response, cache_timeout=3600)   # max-age=3600 and Expires
    return response


# settings.py: fingerprinted static files (style.3f9a2c1b.css) that the server in
# front (nginx, WhiteNoise) can send with max-age=31536000, immutable.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
