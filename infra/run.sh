#!/usr/bin/env bash
# `npm start`: the whole platform on this machine — the service stack, migrations, demo data,
# the demo upstream and every app — then prints where to go. `npm start -- down` stops the apps
# (the stack keeps running; `npm run stack down` stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STATE=${TOLLGATE_STATE_DIR:-$ROOT/.tollgate}
LOGS=$STATE/logs
RUN=$STATE/run
mkdir -p "$LOGS" "$RUN"

# name|command|health URL (apps read their ports from env; these are the defaults)
APPS=(
  "demo-upstream|npm start -w apps/demo-upstream --silent|http://127.0.0.1:4010/health"
  "metering|npm start -w apps/metering --silent|http://127.0.0.1:8081/healthz"
  "billing|npm start -w apps/billing --silent|http://127.0.0.1:8082/healthz"
  "gateway|npm start -w apps/gateway --silent|http://127.0.0.1:9090/readyz"
  "portal|npm start -w apps/portal --silent|http://127.0.0.1:3000/api/health"
)

app_running() { [[ -f $RUN/app-$1.pid ]] && kill -0 "$(cat "$RUN/app-$1.pid")" 2>/dev/null; }

wait_healthy() { # name url deadline-seconds
  local deadline=$((SECONDS + $3))
  until curl -fs -o /dev/null --max-time 2 "$2"; do
    if ! app_running "$1"; then
      echo "tollgate: $1 exited; last lines of $LOGS/app-$1.log:" >&2
      tail -n 30 "$LOGS/app-$1.log" >&2
      return 1
    fi
    if ((SECONDS > deadline)); then
      echo "tollgate: $1 not healthy at $2 after $3 s; last lines of $LOGS/app-$1.log:" >&2
      tail -n 30 "$LOGS/app-$1.log" >&2
      return 1
    fi
    sleep 0.5
  done
}

down() {
  for entry in "${APPS[@]}"; do
    local name=${entry%%|*}
    if app_running "$name"; then
      # Each app runs in its own process group: stop npm, tsx and node together.
      kill -TERM -- "-$(cat "$RUN/app-$name.pid")" 2>/dev/null || true
      echo "stopped $name"
    fi
    rm -f "$RUN/app-$name.pid"
  done
}

up() {
  bash infra/stack.sh up
  set -a
  # shellcheck disable=SC1091
  source "$STATE/stack.env"
  set +a
  # Local-only service tokens shared by the apps; set your own outside local development.
  export METERING_SERVICE_TOKEN=${METERING_SERVICE_TOKEN:-local-metering-token-change-me-0123456789}
  export BILLING_SERVICE_TOKEN=${BILLING_SERVICE_TOKEN:-local-billing-token-change-me-0123456789}
  export GATEWAY_SPOOL_DIR=${GATEWAY_SPOOL_DIR:-$STATE/gateway-spool}
  # The gateway refuses upstreams on internal addresses unless allowed: the demo upstream listens
  # on loopback (the seed's target). Add your own local upstreams here, comma-separated.
  export GATEWAY_UPSTREAM_ALLOW=${GATEWAY_UPSTREAM_ALLOW:-127.0.0.1:4010}
  bash packages/db/scripts/generate.sh
  npm run --silent migrate
  local seed_out
  seed_out=$(npm run --silent seed)
  echo "$seed_out"

  if [[ ! -f apps/portal/.next/BUILD_ID || -n $(find apps/portal/src apps/portal/app -newer apps/portal/.next/BUILD_ID -print -quit 2>/dev/null) ]]; then
    echo "building the portal (first run takes a minute)…"
    NEXT_TELEMETRY_DISABLED=1 npm run build -w apps/portal --silent >"$LOGS/portal-build.log" 2>&1 ||
      { tail -n 40 "$LOGS/portal-build.log" >&2; exit 1; }
  fi

  for entry in "${APPS[@]}"; do
    IFS='|' read -r name cmd url <<<"$entry"
    if app_running "$name"; then continue; fi
    setsid bash -c "exec $cmd" >"$LOGS/app-$name.log" 2>&1 &
    echo $! >"$RUN/app-$name.pid"
  done
  for entry in "${APPS[@]}"; do
    IFS='|' read -r name _ url <<<"$entry"
    wait_healthy "$name" "$url" 90
  done

  local key
  key=$(sed -n 's/^DEMO_API_KEY=//p' <<<"$seed_out" | tail -n 1)
  cat <<TXT

Tollgate is running.
  Portal          http://127.0.0.1:3000
                  admin@tollgate.local / finance@tollgate.local / dev@tollgate.local, password tollgate-demo
  Gateway         http://127.0.0.1:8080   (admin: http://127.0.0.1:9090/metrics)
  Metering API    http://127.0.0.1:8081/openapi.json
  Billing API     http://127.0.0.1:8082/openapi.json
  Admin REST API  http://127.0.0.1:3000/admin/v1/openapi.json
  Logs            $LOGS

Try the demo API through the gateway:
  curl -i -H 'Authorization: Bearer ${key:-<key from the portal>}' http://127.0.0.1:8080/echo/hello

Stop the apps with: npm start -- down   (the services: npm run stack down)
TXT
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: npm start [-- up|down]" >&2; exit 2 ;;
esac
