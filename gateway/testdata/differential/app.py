"""A Flask app with one handler per protected path of the gateway's
differential test. Every handler answers with an X-Handler header naming
itself. It listens on 127.0.0.1 on a free port and prints the port.
Werkzeug defaults apply: routing is case-sensitive, a missing trailing slash
is redirected (strict_slashes), the method is upper-cased."""

import sys
import threading

from flask import Flask
from werkzeug.serving import make_server

ALL = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
app = Flask(__name__)


def route(name, paths, methods):
    def view(**_):
        from flask import request

        return name + "\n", 200, {"X-Handler": name, "X-Handler-Method": request.method}

    for i, path in enumerate(paths):
        app.add_url_rule(path, endpoint=f"{name}-{i}", view_func=view, methods=methods)


route("admin", ["/admin/", "/admin/<path:rest>"], ALL)
route("refund", ["/reports/<rid>/refund"], ALL)
route("reports", ["/reports/", "/reports/<path:rest>"], ALL)
route("orders-delete", ["/orders/", "/orders/<path:rest>"], ["DELETE"])
route("orders-write", ["/orders/", "/orders/<path:rest>"], ["POST", "PUT"])
route("orders-read", ["/orders/", "/orders/<path:rest>"], ["GET"])
route("public", ["/public/", "/public/<path:rest>"], ALL)
route("any", ["/", "/<path:rest>"], ALL)

server = make_server("127.0.0.1", 0, app, threaded=True)
print("listening", server.server_port, flush=True)


def stop_when_stdin_closes():
    sys.stdin.read()
    server.shutdown()


threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
server.serve_forever()
