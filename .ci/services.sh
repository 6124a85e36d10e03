# Sourced by .ci/run: the system services the tests use, from Debian's packages.
# Nothing here is fatal: a test whose service is missing is skipped with a printed reason.

_need_pkgs=()
command -v chromium >/dev/null 2>&1 || _need_pkgs+=(chromium)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || _need_pkgs+=(postgresql)
# The ingest tests draw their PDFs with DejaVu (fpdf2 needs a Unicode font).
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || _need_pkgs+=(fonts-dejavu-core)
if [ "${#_need_pkgs[@]}" -gt 0 ]; then
    echo "ci: installing ${_need_pkgs[*]} with apt-get"
    if [ "$(id -u)" = 0 ]; then _sudo=""; else _sudo="sudo"; fi
    ( export DEBIAN_FRONTEND=noninteractive
      $_sudo apt-get update -qq >/tmp/ci-apt.log 2>&1 && $_sudo apt-get install -y -qq --no-install-recommends "${_need_pkgs[@]}" >>/tmp/ci-apt.log 2>&1 ) \
        || echo "ci: apt-get could not install ${_need_pkgs[*]}; tests that need them will be skipped"
fi

# A local PostgreSQL for the escalation store's second backend.
if command -v pg_lsclusters >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    _ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
    pg_lsclusters -h | grep -q "^$_ver main" || pg_createcluster "$_ver" main >/dev/null 2>&1 || true
    pg_ctlcluster "$_ver" main start 2>/dev/null || true
    _port=$(pg_lsclusters -h | awk -v v="$_ver" '$1==v && $2=="main" {print $3}')
    if pg_lsclusters -h | grep -q "^$_ver main .* online"; then
        runuser -u postgres -- psql -q -p "$_port" -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='policybot') THEN CREATE ROLE policybot LOGIN SUPERUSER PASSWORD 'policybot'; END IF; END\$\$;" >/dev/null 2>&1 || true
        runuser -u postgres -- createdb -p "$_port" -O policybot policybot_test >/dev/null 2>&1 || true
        export POLICYBOT_TEST_DATABASE_URL="postgresql://policybot:policybot@127.0.0.1:${_port}/policybot_test"
        echo "ci: PostgreSQL $_ver on port $_port for the tests"
    else
        echo "ci: PostgreSQL could not be started; its tests will be skipped"
    fi
fi
