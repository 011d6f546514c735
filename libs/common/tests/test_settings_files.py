"""Settings also come from files (a Kubernetes Secret mounted as a volume): one file a setting,
named after it, in the directory SETTINGS_SECRETS_DIR names; the environment wins."""

from __future__ import annotations

from devicebulk_common.settings import CommonSettings, SmtpSettings


def test_settings_are_read_from_the_secrets_directory(tmp_path, monkeypatch):
    (tmp_path / "DATABASE_URL").write_text("postgresql+asyncpg://app@db.internal:5432/devicebulk\n")
    (tmp_path / "CREDENTIALS_KEY").write_text("a-fernet-key")
    (tmp_path / "SMTP_PASSWORD").write_text("s3cret")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CREDENTIALS_KEY", raising=False)
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("SETTINGS_SECRETS_DIR", str(tmp_path))

    common = CommonSettings(_env_file=None)
    smtp = SmtpSettings(_env_file=None)

    assert common.database_url == "postgresql+asyncpg://app@db.internal:5432/devicebulk"
    assert common.credentials_key.get_secret_value() == "a-fernet-key"
    assert smtp.smtp_password is not None and smtp.smtp_password.get_secret_value() == "s3cret"


def test_the_environment_wins_over_a_file(tmp_path, monkeypatch):
    (tmp_path / "RABBITMQ_URL").write_text("amqp://from-file/")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://from-env/")
    monkeypatch.setenv("SETTINGS_SECRETS_DIR", str(tmp_path))
    assert CommonSettings(_env_file=None).rabbitmq_url == "amqp://from-env/"


def test_without_the_directory_nothing_is_read_from_files(tmp_path, monkeypatch):
    (tmp_path / "LOG_LEVEL").write_text("DEBUG")
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    monkeypatch.delenv("SETTINGS_SECRETS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert CommonSettings(_env_file=None).log_level == "INFO"
