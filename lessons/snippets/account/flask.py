# A page that greets its visitor, cached with Flask-Caching three ways.
# The name is kept in Flask's session (a signed cookie).
from flask import Flask, make_response, render_template, session
from flask_caching import Cache

app = Flask(__name__)
app.config["SECRET_KEY"] = "change-me"
cache = Cache(app, config={"CACHE_TYPE": "RedisCache", "CACHE_DEFAULT_TIMEOUT": 120})


# WRONG: cached() keys the entry on the path alone, but the view reads the
# session. The first visitor's greeting is stored and everyone else is
# greeted with it for two minutes.
@app.route("/account-wrong")
@cache.cached(timeout=120)
def account_wrong():
    return render_template("account.html", name=session.get("name"))


# RIGHT: the user joins the key, so each visitor has an entry of their own.
def per_user_key():
    return "account:" + (session.get("name") or "-")


@app.route("/account")
@cache.cached(timeout=120, key_prefix=per_user_key)
def account():
    return render_template("account.html", name=session.get("name"))


# RIGHT, and shared: cache only what is the same for everyone, and add the
# greeting on every request.
@cache.memoize(timeout=120)
def account_body():
    return render_template("account_body.html")  # no name in it


@app.route("/account-spliced")
def account_spliced():
    html = render_template("account_shell.html", name=session.get("name"), body=account_body())
    resp = make_response(html)
    # The response names one visitor: no shared cache (CDN, nginx) may keep
    # it. Flask adds "Vary: Cookie" itself whenever the session is read.
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
