# Headers decide what a shared cache (nginx, Varnish, a CDN) may keep.
from flask import Flask, make_response, render_template, request

app = Flask(__name__)


@app.get("/news")
def news():
    resp = make_response(render_template("news.html"))
    # The browser revalidates; the proxy keeps it 30 s and serves it
    # stale while it refreshes, or while the app is down.
    resp.headers["Cache-Control"] = (
        "public, max-age=0, s-maxage=30, stale-while-revalidate=30, stale-if-error=600"
    )
    return resp


@app.get("/account")
def account():
    resp = make_response(render_template("account.html"))
    resp.headers["Cache-Control"] = "private, max-age=30"   # the user's browser only
    return resp


@app.get("/greeting")
def greeting():
    lang = request.accept_languages.best_match(["en", "fr", "de"]) or "en"
    resp = make_response(render_template("greeting.html", lang=lang))
    resp.headers["Cache-Control"] = "public, max-age=0, s-maxage=30"
    resp.vary.add("Accept-Language")                       # one copy per language
    return resp
