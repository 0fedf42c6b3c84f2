FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml setup.cfg README.md ./
COPY authserver ./authserver
COPY migrations ./migrations
RUN pip install --no-cache-dir . && useradd --system authserver
USER authserver
EXPOSE 8000
CMD ["gunicorn", "--workers", "3", "--bind", "0.0.0.0:8000", "authserver:create_app()"]
