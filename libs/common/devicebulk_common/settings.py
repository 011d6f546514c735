"""Settings shared by every service (the names every service and manifest share; docs/architecture.md, Configuration).

Each service subclasses :class:`CommonSettings` and adds its own, prefixed names. The kit's
factories never take a settings object: services read their settings and pass plain values.

Every setting is read from, first to last: the environment, ``.env`` in the working directory,
and, when ``SETTINGS_SECRETS_DIR`` names a directory, a file there named after the setting
(``DATABASE_URL``, ``CREDENTIALS_KEY``, ...: a Kubernetes Secret mounted as a volume), its
content the value.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

SECRETS_DIR_ENV = "SETTINGS_SECRETS_DIR"


class _Settings(BaseSettings):
    """The environment, then ``.env``, then the files of ``SETTINGS_SECRETS_DIR`` (read when the
    settings are made, not at import)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings, dotenv_settings]
        secrets_dir = os.environ.get(SECRETS_DIR_ENV)
        if secrets_dir:
            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir))
        return tuple(sources)


class CommonSettings(_Settings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/devicebulk"
    database_pool_size: int = 10
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    thingspace_base_url: str = "http://127.0.0.1:8090/api"
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    # Fernet key that encrypts carrier credentials at rest. Required; `make run` writes one to .env.
    # A comma-separated list while a key is rotated: the first encrypts, every one decrypts
    # (devicebulk_common.crypto, MultiFernet).
    credentials_key: SecretStr = Field(default=SecretStr(""))


class SmtpSettings(_Settings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "devicebulk@localhost"
