# JupyterHub for DataFlow Lab workshops. ONE file for both places it runs:
#   - the image (docker/jupyterhub/Dockerfile, compose service "jupyterhub"): every trainee is a system user
#     in the container (LocalProcessSpawner), so homes and processes are separated by the OS;
#   - the native test (test/hub/hub.test.ts): DATAFLOW_HUB_SPAWNER=simple runs every server as the test's
#     own user (SimpleLocalProcessSpawner) with homes under DATAFLOW_HUB_HOME_ROOT.
# Everything that differs between the two comes from the environment; secrets only from the environment.
import os
import re
import shutil
import sys
from pathlib import Path

from jupyterhub.auth import Authenticator, LocalAuthenticator

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scoped_credentials.py sits next to this file
import scoped_credentials  # noqa: E402

c = get_config()  # noqa: F821  (injected by JupyterHub when it loads this file)


def env(name, default=None, required=False):
    value = os.environ.get(name, "").strip()
    if not value:
        if required:
            # Refuse to start: a workshop hub with a default admin password is an open door.
            sys.exit(f"jupyterhub_config.py: {name} is not set. Set it in the hub's environment "
                     f"(docker/.env for compose, or export it) and start the hub again.")
        return default
    return value


# --- who may log in ------------------------------------------------------------------------------------
# A shared workshop password (announced in the room) plus an admin with their own password. Chosen over
# NativeAuthenticator: nothing to approve while thirty people wait, no sign-up database to look after, and
# no extra package; the trainer still controls who is in (allowed names below, or stop the hub).
ADMIN_USER = env("DATAFLOW_HUB_ADMIN_USER", "trainer")
ADMIN_PASSWORD = env("DATAFLOW_HUB_ADMIN_PASSWORD", required=True)
WORKSHOP_PASSWORD = env("DATAFLOW_HUB_WORKSHOP_PASSWORD", required=True)
if WORKSHOP_PASSWORD == ADMIN_PASSWORD:
    sys.exit("jupyterhub_config.py: DATAFLOW_HUB_WORKSHOP_PASSWORD must differ from DATAFLOW_HUB_ADMIN_PASSWORD "
             "(trainees know the workshop password).")


class WorkshopPasswordMixin:
    """The admin logs in with the admin password, everyone else with the workshop password."""

    def check_credentials(self, username, password):
        import hmac

        expected = ADMIN_PASSWORD if username == ADMIN_USER else WORKSHOP_PASSWORD
        return hmac.compare_digest(password.encode(), expected.encode())

    async def authenticate(self, handler, data):
        username = (data.get("username") or "").strip().lower()
        if not re.match(scoped_credentials.USER_PATTERN, username) or not self.check_credentials(username, data.get("password") or ""):
            return None
        return {"name": username, "admin": username == ADMIN_USER}


class WorkshopAuthenticator(WorkshopPasswordMixin, Authenticator):
    pass


class LocalWorkshopAuthenticator(WorkshopPasswordMixin, LocalAuthenticator):
    # In the image every trainee becomes a system user on first login (useradd), so the OS keeps homes apart.
    add_user_cmd = ["useradd", "--create-home", "--shell", "/bin/bash"]

    def add_system_user(self, user):
        # /home is a volume but /etc/passwd is not: a re-created container re-creates the trainees in whatever
        # order they come back, and useradd's next free uid could be the one that owns another trainee's kept home.
        # So a kept home gives its owner's uid back (useradd refuses a uid already taken: the spawn fails, safely),
        # and a new trainee gets a uid above every uid owning a home.
        import pwd

        home = Path("/home") / user.name
        if home.is_dir():
            self.uids[user.name] = home.stat().st_uid
        else:
            taken = {p.stat().st_uid for p in Path("/home").iterdir()} | {e.pw_uid for e in pwd.getpwall()}
            self.uids[user.name] = max([999, *(uid for uid in taken if 1000 <= uid < 60000)]) + 1
        super().add_system_user(user)


SPAWNER = env("DATAFLOW_HUB_SPAWNER", "local")
if SPAWNER == "simple":
    c.JupyterHub.authenticator_class = WorkshopAuthenticator
    c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
    c.SimpleLocalProcessSpawner.home_dir_template = str(Path(env("DATAFLOW_HUB_HOME_ROOT", "/tmp/dataflow-hub-homes")) / "{username}")
    if os.geteuid() == 0:
        # Test machines and CI containers run as root; the servers then run as root too (no OS separation:
        # this mode is for tests only, the image uses LocalProcessSpawner with one system user per trainee).
        c.Spawner.args = ["--allow-root"]
else:
    c.JupyterHub.authenticator_class = LocalWorkshopAuthenticator
    c.LocalAuthenticator.create_system_users = True
    c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Authenticator.username_pattern = scoped_credentials.USER_PATTERN
c.Authenticator.admin_users = {ADMIN_USER}
allowed = env("DATAFLOW_HUB_ALLOWED_USERS")  # optional comma list; otherwise anyone with the workshop password
if allowed:
    c.Authenticator.allowed_users = {u.strip() for u in allowed.split(",") if u.strip()}
else:
    c.Authenticator.allow_all = True

# --- where it listens ------------------------------------------------------------------------------------
c.JupyterHub.bind_url = env("DATAFLOW_HUB_BIND_URL", "http://0.0.0.0:8000")
c.JupyterHub.hub_bind_url = env("DATAFLOW_HUB_INTERNAL_URL", "http://127.0.0.1:8081")
c.ConfigurableHTTPProxy.api_url = env("DATAFLOW_HUB_PROXY_API_URL", "http://127.0.0.1:8001")
if env("DATAFLOW_HUB_PROXY_COMMAND"):
    c.ConfigurableHTTPProxy.command = [env("DATAFLOW_HUB_PROXY_COMMAND")]
STATE_DIR = Path(env("DATAFLOW_HUB_STATE_DIR", "/srv/jupyterhub"))
STATE_DIR.mkdir(parents=True, exist_ok=True)
c.JupyterHub.db_url = f"sqlite:///{STATE_DIR / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE_DIR / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE_DIR / "jupyterhub-proxy.pid")
# A first start of node + tslab + DuckDB on a busy machine can take a while.
c.Spawner.start_timeout = int(env("DATAFLOW_HUB_START_TIMEOUT", "120"))
c.Spawner.http_timeout = int(env("DATAFLOW_HUB_START_TIMEOUT", "120"))
c.Spawner.default_url = "/lab"
c.Spawner.cmd = [env("DATAFLOW_HUB_SINGLEUSER", "jupyterhub-singleuser")]

# --- idle culler -----------------------------------------------------------------------------------------
# Stops servers idle for DATAFLOW_HUB_IDLE_TIMEOUT seconds (default 1 h); their files stay, a login restarts them.
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={env('DATAFLOW_HUB_IDLE_TIMEOUT', '3600')}"],
}]

# --- what every user's server gets ----------------------------------------------------------------------
# Service addresses pass through from the hub's environment. The hub's own keys do NOT: AWS_ACCESS_KEY_ID /
# AWS_SECRET_ACCESS_KEY (MinIO's root) and DATAFLOW_CATALOG_URL (the catalog's owner) stay in the hub, and
# pre_spawn_hook gives each server credentials scoped to its user (scoped_credentials.py). JupyterHub starts
# servers with an empty environment plus Spawner.environment, so nothing else leaks through.
PASSED = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION", "KAFKA_BOOTSTRAP_SERVERS", "MLFLOW_TRACKING_URI",
          "DATAFLOW_DUCKDB_EXTENSIONS", "TZ"]
c.Spawner.environment = {k: os.environ[k] for k in PASSED if os.environ.get(k)}
S3_ENDPOINT = env("AWS_ENDPOINT_URL_S3") or env("AWS_ENDPOINT_URL")
CATALOG_URL = env("DATAFLOW_CATALOG_URL")
# How long a server's keys and catalog password last; a trainee whose keys expired restarts their server
# (File > Hub Control Panel > Stop My Server, then Start), which issues new ones.
CREDENTIAL_HOURS = float(env("DATAFLOW_HUB_CREDENTIAL_HOURS", "12"))
if not 0.25 <= CREDENTIAL_HOURS <= 168:
    # STS needs at least 15 minutes; more than a week is no longer a workshop's keys.
    sys.exit(f"jupyterhub_config.py: DATAFLOW_HUB_CREDENTIAL_HOURS={CREDENTIAL_HOURS:g} is outside 0.25 to 168 hours.")
if S3_ENDPOINT and not (env("AWS_ACCESS_KEY_ID") and env("AWS_SECRET_ACCESS_KEY")):
    sys.exit("jupyterhub_config.py: AWS_ENDPOINT_URL_S3 is set but AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not. "
             "The hub needs MinIO's root keys to issue each trainee's scoped keys.")
if (S3_ENDPOINT is None) != (CATALOG_URL is None):
    # One without the other would put a trainee's catalog and files in different places (embedded vs services).
    sys.exit("jupyterhub_config.py: set both AWS_ENDPOINT_URL_S3 and DATAFLOW_CATALOG_URL (services) or neither (embedded).")
# Seed: the notebooks and sample data each trainee starts from, and the node_modules holding tslab's
# @dataflow-lab/kernel-helpers (linked, so TypeScript finds the library's types from the trainee's home).
SEED_DIR = Path(env("DATAFLOW_HUB_SEED_DIR", "/opt/dataflow-lab/seed"))
NODE_MODULES = Path(env("DATAFLOW_HUB_NODE_MODULES", "/opt/dataflow-lab/node_modules"))
SEEDED_MARKER = ".dataflow-lab-seeded"


def seed_home(home: Path, owner=None):
    """Copy the starting notebooks and data into a home on first start (and after a reset)."""
    home.mkdir(parents=True, exist_ok=True)
    if not (home / SEEDED_MARKER).exists():
        if SEED_DIR.is_dir():
            shutil.copytree(SEED_DIR, home, dirs_exist_ok=True, symlinks=True)
        (home / SEEDED_MARKER).write_text("Delete this file (or run the hub's reset command) to restore the starting notebooks.\n")
    link = home / "node_modules"
    if not link.exists() and NODE_MODULES.is_dir():
        link.symlink_to(NODE_MODULES)
    if owner is not None:
        # A trainee's home is theirs alone; copytree has just given it the seed folder's mode (0755).
        home.chmod(0o700)
        for path in [home, *home.rglob("*")]:
            if not path.is_symlink():
                shutil.chown(path, owner, owner)


async def pre_spawn_hook(spawner):
    import asyncio

    name = spawner.user.name
    if SPAWNER == "simple":
        home = Path(spawner.home_dir)
        owner = None
    else:
        import pwd

        home = Path(pwd.getpwnam(name).pw_dir)
        owner = name
    seed_home(home, owner)
    # A new dict per server: what is added here must never reach another user's server.
    environment = dict(spawner.environment)
    # The lab folder (embedded parts, DuckDB spill files) in the trainee's home; JUPYTERHUB_USER (set by the hub)
    # puts their tables and objects in their own namespace on the shared services.
    environment["DATAFLOW_LAB_HOME"] = str(home / "dataflow-lab")
    # MLflow is shared by everyone: the ML notebook's experiment and model names carry the trainee's name, so
    # one trainee's champion alias never points at another's model.
    environment["ML_NAME"] = f"dataflow-lab-{name}"
    if S3_ENDPOINT and CATALOG_URL:
        # Network calls: in a thread, so thirty logins at once do not stall the hub. A CredentialError fails
        # the spawn (the trainee sees it, the trainer finds it in the log); never a fallback to the hub's keys.
        environment.update(await asyncio.to_thread(
            scoped_credentials.issue_s3_credentials,
            name, S3_ENDPOINT, env("AWS_REGION", "us-east-1"), env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), CREDENTIAL_HOURS))
        environment["DATAFLOW_CATALOG_URL"] = await asyncio.to_thread(
            scoped_credentials.issue_catalog_credentials, name, CATALOG_URL, CREDENTIAL_HOURS)
        spawner.log.info("Issued %s's scoped credentials (objects under %s, catalog role %s) for %s h", name,
                         scoped_credentials.key_prefix(name), scoped_credentials.catalog_role(name), CREDENTIAL_HOURS)
    spawner.environment = environment


c.Spawner.pre_spawn_hook = pre_spawn_hook
