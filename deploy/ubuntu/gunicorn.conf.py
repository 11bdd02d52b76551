"""gunicorn settings for the 投行云 web server (``ibcloud-web.service``).

gunicorn runs the same WSGI application as ``ibcloud serve`` (which uses waitress), with several
processes so that one slow request or one crashed process does not stop the site. Job workers
run in their own units (``ibcloud-worker@default``, ``ibcloud-worker@crawl``), never in here.

Values given on the command line or in ``GUNICORN_CMD_ARGS`` (set it in /etc/ibcloud/ibcloud.env)
override these, e.g. ``GUNICORN_CMD_ARGS="--bind 10.0.0.11:8000 --workers 8"`` on a cluster app
server. Proxy trust: ``FORWARDED_ALLOW_IPS`` (gunicorn's own variable) names the proxies whose
``X-Forwarded-Proto`` gunicorn believes; it defaults to loopback, right for nginx on this machine.
"""

import multiprocessing

wsgi_app = "ibcloud.wsgi:application"

# Loopback only: nginx on this machine is the only client. A cluster app server binds its private
# address instead (GUNICORN_CMD_ARGS="--bind ...") and lets only the load balancers reach it.
bind = ["127.0.0.1:8000"]

# Threads, because requests wait on the database more than they compute; processes, so that a
# crash or a leak stays in one of them. Two cores give 3 processes x 4 threads.
worker_class = "gthread"
workers = min(multiprocessing.cpu_count() + 1, 9)
threads = 4

# Exports and reports can take a while; nginx's proxy_read_timeout (300 s) is longer, so gunicorn
# gives up first and the client sees a clean error. A stopping process finishes its requests.
timeout = 120
graceful_timeout = 30
keepalive = 5

# Recycle processes now and then so slow leaks never grow; the jitter keeps them from all
# restarting at once.
max_requests = 2000
max_requests_jitter = 200

# Logs go to stderr, which systemd sends to the journal (journalctl -u ibcloud-web); the
# application also writes its own rotating log under IBCLOUD_LOG_DIR.
accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = '%({x-forwarded-for}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s %(L)ss'

proc_name = "ibcloud-web"
# systemd starts, reloads and stops gunicorn; no control socket (gunicorn 25.1+ would otherwise
# create one in the service user's home directory).
control_socket_disable = True
# Large request bodies (50 MB attachments) are capped by nginx's client_max_body_size and by
# the attachment form; these limits only guard the header parser.
limit_request_line = 8190
limit_request_fields = 100
