FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings but no secrets or database: build-time placeholders only.
RUN DEBUG=true VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app app \
    && mkdir -p /app/var && chown app /app/var
USER app

EXPOSE 8000
CMD ["gunicorn", "meraki_incidents.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
