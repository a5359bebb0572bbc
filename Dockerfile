# The queue app as one image: every process (worker, supervisor, dashboard, scheduler) is
# `python artisan <command>`; compose.yaml picks the command per service. See docs/deployment.md.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# A fixed uid/gid, so volumes can be chowned to it from the host.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY --chown=app:app . .
RUN mkdir -p storage/logs && chown -R app:app storage

USER app

# `docker run IMAGE queue:work --queue=high,default` runs `python artisan queue:work ...`.
ENTRYPOINT ["python", "artisan"]
CMD ["queue:work"]
