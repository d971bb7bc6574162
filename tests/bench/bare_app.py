"""The baseline: a bare Flask app under the same gunicorn settings, answering a fixed JSON body.

Mounted into the kindling image by tests/bench/serving.py, so both servers run on the same Python,
Flask and gunicorn; the difference in requests/s is what kindling's own work costs.
"""

from flask import Flask, Response, request

app = Flask(__name__)
BODY = b'[{"label":["__label__pos"],"prob":[0.9]}]'


@app.get("/ping")
def ping():
    return Response(b'{"status":"healthy"}', mimetype="application/json")


@app.post("/invocations")
def invocations():
    request.get_data()  # read the body like kindling does
    return Response(BODY, mimetype="application/json")
