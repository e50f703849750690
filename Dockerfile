FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic with the production storage (hashed, compressed names and their manifest), so it needs production
# settings: throw-away build-time values, never used at run time.
RUN DEBUG=false ALLOWED_HOSTS=build SECRET_KEY=collectstatic-only-$(date +%s) VAR_DIR=/tmp/build-var \
    FIELD_ENCRYPTION_KEY=$(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") \
    python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app app \
    && mkdir -p /app/var && chown app /app/var
USER app

EXPOSE 8000
CMD ["gunicorn", "meraki_incidents.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
