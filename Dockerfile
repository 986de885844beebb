FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config config
COPY worker worker
COPY tasks tasks
COPY sandbox sandbox
RUN pip install --no-cache-dir .
USER nobody
