# Sourced by schema.sh and setup.sh (POSIX sh): `wait_for SECONDS WHAT COMMAND...` runs
# COMMAND once a second until it succeeds, and gives up after SECONDS tries saying that WHAT
# did not answer, so a one-shot service fails with a reason instead of hanging.
wait_for() {
  limit="$1"
  what="$2"
  shift 2
  tries=0
  until "$@" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge "$limit" ]; then
      echo "$what did not answer in $limit s" >&2
      exit 1
    fi
    sleep 1
  done
}
