"""The reference card-office portal: FastAPI + uvicorn over SQLite, serving /api/v1."""
