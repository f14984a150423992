# One image for every role: web (`copline serve`), `copline worker` and `copline migrate`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY service ./service
COPY ussd_menus ./ussd_menus
COPY sms ./sms
COPY migrations ./migrations
RUN pip install -e . && useradd --system --home /app copline && mkdir -p /app/var && chown copline /app/var
USER copline

EXPOSE 8000
CMD ["copline", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-migrate"]
