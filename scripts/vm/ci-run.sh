#!/bin/bash
# The checks of the VM integration test (scripts/test-vm.sh), run in the guest by ci-run.service once systemd is
# up. Every line for the host starts with `CI: `; timings are `CI: FIGURE name value`; the last line is
# `CI: RESULT PASS` or `CI: RESULT FAIL <why>`. Then the full journal goes to the results disk and the VM powers off.
set -u
export SYSTEMD_PAGER= SYSTEMD_COLORS=0 LC_ALL=C.UTF-8
unit=resnet-edge
conf=/etc/resnet-edge/resnet-edge.toml
models=/usr/share/resnet-edge/models
failures=()
reload_model=model-bn.onnx
. /etc/ci-env   # arch, reload_model (written by test-vm.sh)

say() { echo "CI: $*"; }
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
figure() { say "FIGURE $1 $2"; }
pass() { say "PASS [$(now)] $*"; }
fail() { say "FAIL [$(now)] $*"; failures+=("$1"); }
finish() {
  say "journal of $unit:"
  journalctl -u "$unit" --no-pager -o short-monotonic | sed 's/^/CI: journal: /'
  mkdir -p /tmp/results
  journalctl -b --no-pager -o short-monotonic > /tmp/results/journal.txt 2>&1
  systemctl status "$unit" --no-pager > /tmp/results/status.txt 2>&1
  cp /tmp/ci-* /tmp/results/ 2>/dev/null
  if [ -b /dev/vdb ]; then tar cf /dev/vdb -C /tmp/results . 2>/dev/null; sync; fi
  if [ ${#failures[@]} -eq 0 ] && [ "${1:-}" = "" ]; then
    say "RESULT PASS"
  else
    say "RESULT FAIL ${1:-${failures[*]}}"
  fi
  sync
  systemctl poweroff --no-block
  exit 0
}
abort() { fail "$1" "${*:2}"; finish "$1: ${*:2}"; }

# Wait until a command succeeds: wait_for SECONDS CMD... (returns 1 on timeout)
wait_for() {
  local limit=$1; shift
  local t0; t0=$(now)
  while ! "$@" >/dev/null 2>&1; do
    awk -v a="$t0" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }' && return 1
    sleep 0.2
  done
}

# ---------------------------------------------------------------- the daemon's endpoints, from its config
toml() { # SECTION KEY -> value (strings unquoted)
  awk -v s="[$1]" -v k="$2" '
    /^\[/ { in_s = ($0 == s) }
    in_s && $1 == k { sub(/^[^=]*=[ \t]*/, ""); sub(/[ \t]*#.*$/, ""); gsub(/^"|"$/, ""); print; exit }' "$conf"
}
http=$(toml results http_listen); http=${http:-127.0.0.1:8089}
sock=$(toml results socket); sock=${sock:-/run/resnet-edge/results.sock}
url=http://$http
get() { curl -sS --max-time 5 "$url$1"; }
metrics() { get /metrics > "/tmp/ci-metrics.$1" 2>/dev/null; }
# Sum of the samples whose metric name matches an extended regex (labels allowed): mval FILE REGEX
mval() {
  awk -v re="^($2)([{ ]|$)" '!/^#/ && $0 ~ re { s += $NF; n++ } END { if (n) printf "%.6g", s; else print "" }' "$1"
}
captured_re='resnet_edge_frames_captured(_total)?'
classified_re='resnet_edge_frames_classified(_total)?'
classified() { metrics now; mval /tmp/ci-metrics.now "$classified_re"; }
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$url/healthz")" = 200 ]; }
unhealthy() { local c; c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$url/healthz"); [ "$c" != 200 ] && [ "$c" != 000 ]; }
active() { [ "$(systemctl is-active "$unit")" = active ]; }
prop() { systemctl show -p "$1" --value "$unit"; }
# Whether the classified counter is above N: classified_above N
classified_above() { local c; c=$(classified); [ -n "$c" ] && awk -v c="$c" -v n="$1" 'BEGIN { exit !(c > n) }'; }
set_conf() { # SECTION KEY VALUE (a string): rewrite the config in place
  awk -v s="[$1]" -v k="$2" -v v="$3" '
    /^\[/ { in_s = ($0 == s) }
    in_s && $1 == k { print k " = \"" v "\""; next } { print }' "$conf" > /tmp/ci-conf && cat /tmp/ci-conf > "$conf"
}

# systemctl stop within 2 s. The time is systemd's: from PID 1's "Stopping" to the unit's "Deactivated"/"Stopped"
# lines in the journal (monotonic); systemctl's own wall time, which adds the client's start-up (seconds by itself
# under emulation on a loaded host), is reported beside it.
check_stop() {
  local t0 wall stop_s
  t0=$(now)
  timeout 20 systemctl stop $unit
  wall=$(since "$t0")
  sleep 0.5
  stop_s=$(journalctl -u $unit --no-pager -o short-monotonic | awk -v t0="$t0" '
    { match($0, /[0-9]+\.[0-9]+/); t = substr($0, RSTART, RLENGTH) + 0 }
    t >= t0 - 1 && /systemd\[1\]: Stopping / && !s { s = t }
    t >= t0 - 1 && /Deactivated successfully|systemd\[1\]: Stopped / { e = t }
    END { if (!s) s = t0; if (e) printf "%.2f", e - s }')
  figure stop_systemctl_wall_seconds "$wall"
  if [ -n "$stop_s" ]; then figure stop_seconds "$stop_s"; fi
  if [ -n "$stop_s" ] && awk -v s="$stop_s" 'BEGIN { exit !(s <= 2.0) }' && ! active; then
    pass "stop: ${stop_s} s (systemctl ${wall} s), $(systemctl is-active $unit)"
  else fail stop "stop took ${stop_s:-?} s (limit 2 s; systemctl ${wall} s), state $(systemctl is-active $unit)"; fi
}

say "guest up at $(now) s: $(uname -r) $(uname -m), systemd $(systemctl --version | awk 'NR == 1 {print $2}')"
figure boot_to_ci_seconds "$(now)"

# ---------------------------------------------------------------- 0. the environment
wait_for 20 test -c /dev/video0 || abort camera "/dev/video0 did not appear"
say "camera: $(v4l2-ctl -d /dev/video0 --info 2>/dev/null | awk -F: '/Card type/ {gsub(/^ +/, "", $2); print $2}') $(ls -l /dev/video0 | awk '{print $1, $3, $4}')"
if ldd /usr/bin/resnet-edge | grep -q 'not found'; then
  ldd /usr/bin/resnet-edge | grep 'not found' | sed 's/^/CI: /'
  abort libraries "the binary misses libraries in the guest"
fi
pass "libraries: every NEEDED library resolves"

# ---------------------------------------------------------------- 1. the unit file
out=$(systemd-analyze verify /lib/systemd/system/$unit.service 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then pass "systemd-analyze verify: no output"
else echo "$out" | sed 's/^/CI:   /'; fail verify "systemd-analyze verify exit $rc with output"; fi

# ---------------------------------------------------------------- 2. start: Type=notify, READY=1 after the first classification
t0=$(now)
if ! timeout 120 systemctl start $unit; then
  abort start "systemctl start $unit failed ($(prop Result))"
fi
ready=$(since "$t0")
active || abort start "not active after start"
figure time_to_ready_seconds "$ready"
load=$(journalctl -u $unit --no-pager -o cat | grep -o 'loaded in [0-9.]* s' | head -1 | awk '{print $3}')
[ -z "$load" ] || figure model_load_seconds "$load"
# READY=1 must mean a classified frame: /latest has a result at once (not a ready_timeout start without a camera).
code=$(curl -s -o /tmp/ci-latest.json -w '%{http_code}' --max-time 5 "$url/latest")
if [ "$code" = 200 ] && jq -e '.sequence != null or .frame != null' /tmp/ci-latest.json >/dev/null 2>&1; then
  pass "start: active ($(prop SubState)) after ${ready} s with a classified frame; status: $(prop StatusText)"
  # What runs is stated: precision, kernels, board and the model's checksum in the first log line and in STATUS=.
  first=$(journalctl -u $unit --no-pager -o cat | grep -m1 '^resnet-edge serve: ')
  if echo "$first" | grep -qE '^resnet-edge serve: (INT8|mixed INT8/FP32|FP32) on .*, board [a-z0-9-]+, model [^ ]+ \(sha256 [0-9a-f]{12}\)' \
     && prop StatusText | grep -qE 'board [a-z0-9-]+, model .*sha256 [0-9a-f]{12}'; then
    pass "start: first log line says what runs: $first"
  else fail start-identity "first log line '$first' or status '$(prop StatusText)' does not say precision, kernels, board and checksum"; fi
else
  fail start-classified "ready without a classified frame (GET /latest: $code $(head -c 200 /tmp/ci-latest.json)); status: $(prop StatusText)"
  say "SKIP results, metrics, unplug, reload and watchdog: nothing is classified"
  check_stop
  finish
fi
main_pid=$(prop MainPID)
restarts0=$(prop NRestarts)

# ---------------------------------------------------------------- 3. results: socket, /latest, /events
latest=$(get /latest)
echo "$latest" > /tmp/ci-latest.json
if echo "$latest" | jq -e '.labels // .label' >/dev/null 2>&1; then pass "/latest: $(echo "$latest" | head -c 300)"
else fail latest "/latest has no result: $(echo "$latest" | head -c 200)"; fi
if events=$(curl -sSN --max-time 6 "$url/events" 2>/dev/null | grep -m 2 '^data:'); [ -n "$events" ]; then
  pass "/events: $(echo "$events" | wc -l) events, first: $(echo "$events" | head -1 | head -c 200)"
else fail events "no Server-Sent Event from $url/events within 6 s"; fi
if [ -S "$sock" ]; then
  line=$(timeout 6 nc -U "$sock" < /dev/null 2>/dev/null | head -1)
  if [ -n "$line" ] && echo "$line" | jq -e . >/dev/null 2>&1; then pass "socket $sock: $(echo "$line" | head -c 200)"
  else fail socket "no JSON line from $sock within 6 s"; fi
else fail socket "no Unix socket at $sock"; fi

# ---------------------------------------------------------------- 4. metrics: frames flow; fps and per-stage latency
metrics a; ta=$(now)
sleep 6
metrics b; tb=$(now)
cap_a=$(mval /tmp/ci-metrics.a "$captured_re"); cap_b=$(mval /tmp/ci-metrics.b "$captured_re")
cls_a=$(mval /tmp/ci-metrics.a "$classified_re"); cls_b=$(mval /tmp/ci-metrics.b "$classified_re")
if [ -n "$cls_a" ] && [ -n "$cls_b" ] && awk -v a="$cls_a" -v b="$cls_b" -v c="$cap_a" -v d="$cap_b" 'BEGIN { exit !(b > a && d > c) }'; then
  fps=$(awk -v a="$cls_a" -v b="$cls_b" -v t="$ta" -v u="$tb" 'BEGIN { printf "%.2f", (b - a) / (u - t) }')
  cfps=$(awk -v a="$cap_a" -v b="$cap_b" -v t="$ta" -v u="$tb" 'BEGIN { printf "%.2f", (b - a) / (u - t) }')
  figure classified_fps "$fps"
  figure captured_fps "$cfps"
  pass "metrics: captured $cap_a -> $cap_b, classified $cls_a -> $cls_b in $(awk -v t="$ta" -v u="$tb" 'BEGIN { printf "%.1f", u - t }') s"
else
  fail metrics "frames captured/classified not increasing (captured '$cap_a' -> '$cap_b', classified '$cls_a' -> '$cls_b')"
fi
# Latency: the mean of every *_seconds histogram/summary (sum / count, per stage label), in milliseconds.
awk '!/^#/ && $1 ~ /_seconds_(sum|count)($|\{)/ {
       name = $1; lab = ""
       if (match(name, /\{.*\}/)) { lab = substr(name, RSTART, RLENGTH); name = substr(name, 1, RSTART - 1) }
       kind = (name ~ /_sum$/) ? "sum" : "count"
       sub(/_seconds_(sum|count)$/, "", name); sub(/^resnet_edge_/, "", name)
       st = ""; if (match(lab, /stage="[^"]*"/)) st = "_" substr(lab, RSTART + 7, RLENGTH - 8)
       v[name st, kind] = $NF; keys[name st] = 1 }
     END { for (k in keys) if (v[k, "count"] > 0) printf "CI: FIGURE %s_mean_ms %.2f\n", k, 1000 * v[k, "sum"] / v[k, "count"] }' \
  /tmp/ci-metrics.b | sort
if [ -s /tmp/ci-latest.json ]; then
  say "latest result's stages (ms): $(jq -c '.stages_ms // empty' /tmp/ci-latest.json 2>/dev/null)"
fi
# Live percentiles (the probe's p50/p90/p99/p99.9/max from HDR histograms over the last minute): present per stage, ordered.
quantile() { awk -v s="stage=\"$1\"" -v q="quantile=\"$2\"" \
  '!/^#/ && $1 ~ /^resnet_edge_latency_quantile_seconds\{/ && index($1, s) && index($1, q) { print $NF; exit }' /tmp/ci-metrics.b; }
for stage in preprocess inference capture_to_result; do
  p50=$(quantile $stage 0.5); p90=$(quantile $stage 0.9); p99=$(quantile $stage 0.99); pmax=$(quantile $stage 1)
  if [ -n "$p50" ] && [ -n "$p99" ] && [ -n "$pmax" ] && awk -v a="$p50" -v b="$p90" -v c="$p99" -v d="$pmax" 'BEGIN { exit !(a > 0 && a <= b && b <= c && c <= d) }'; then
    figure "${stage}_p50_ms" "$(awk -v a="$p50" 'BEGIN { printf "%.2f", a * 1000 }')"
    figure "${stage}_p99_ms" "$(awk -v a="$p99" 'BEGIN { printf "%.2f", a * 1000 }')"
  else fail quantiles "live percentiles of $stage missing or out of order (p50 '$p50' p90 '$p90' p99 '$p99' max '$pmax')"; fi
done

# ---------------------------------------------------------------- 5. unplug and replug the camera
# Unplug as USB does it: unbind the driver from the device (vivid's platform device), so /dev/video0 goes away
# under the daemon's open file descriptors. (vivid's "disconnect" control is no good here: vivid re-registers the
# node as soon as the last descriptor closes.) Then `rmmod vivid` succeeds only once the daemon has closed the
# device; `modprobe vivid` plugs it in again.
vivid_dev=$(for d in /sys/bus/platform/drivers/vivid/*; do [ -L "$d" ] && [ -e "$d/video4linux" ] && basename "$d"; done | head -1)
t0=$(now)
if [ -n "$vivid_dev" ] && echo "$vivid_dev" > /sys/bus/platform/drivers/vivid/unbind; then
  say "unplug: unbound $vivid_dev from vivid at $(now) s"
  if wait_for 20 sh -c "curl -s --max-time 3 $url/metrics | grep -q '^resnet_edge_camera_healthy 0'"; then
    figure unplug_camera_unhealthy_metric_seconds "$(since "$t0")"
  fi
  if wait_for 20 unhealthy; then
    figure unplug_detect_seconds "$(since "$t0")"
    pass "unplug: /healthz reports unhealthy after $(since "$t0") s ($(curl -s --max-time 3 "$url/healthz" | head -c 200))"
  else fail unplug-health "/healthz still healthy 20 s after the camera went away"; fi
  if wait_for 20 rmmod vivid; then pass "unplug: the daemon released the device (rmmod vivid after $(since "$t0") s)"
  else
    lsmod | grep '^vivid' | sed 's/^/CI:   lsmod: /'
    fail unplug-release "rmmod vivid still failing 20 s after the unplug (the daemon keeps the dead device open)"
  fi
  if active && [ "$(prop MainPID)" = "$main_pid" ]; then pass "unplug: the daemon keeps running (pid $main_pid, $(prop StatusText))"
  else fail unplug-running "the daemon did not survive the unplug ($(systemctl is-active $unit), pid $(prop MainPID))"; fi
  before=$(classified)
  t1=$(now)
  if lsmod | grep -q '^vivid '; then echo "$vivid_dev" > /sys/bus/platform/drivers/vivid/bind
  else modprobe vivid || fail replug "modprobe vivid failed"; fi
  if wait_for 60 classified_above "${before:-0}" && wait_for 20 healthy; then
    figure recovery_after_replug_seconds "$(since "$t1")"
    pass "replug: classifying again and healthy after $(since "$t1") s"
  else fail replug "no recovery within 60 s of modprobe vivid"; fi
  if [ "$(prop NRestarts)" = "$restarts0" ] && [ "$(prop MainPID)" = "$main_pid" ]; then
    pass "replug: recovered without a restart (NRestarts $restarts0, same pid)"
  else fail replug-restart "the daemon was restarted (NRestarts $(prop NRestarts), pid $(prop MainPID))"; fi
else
  fail unplug "cannot unbind vivid's device (found '${vivid_dev}')"
fi

# ---------------------------------------------------------------- 6. reload: a new model, then a bad one
model_in_use() { get /latest | jq -r '.model // empty' 2>/dev/null; }
model_info() { get /metrics | grep '^resnet_edge_model_info' | head -1; }
say "reload: model in use: $(model_in_use); $(model_info)"
cp "$conf" /tmp/ci-conf.orig
set_conf model path "$models/$reload_model"
before=$(classified); t0=$(now)
systemctl reload $unit || fail reload "systemctl reload failed"
if wait_for 90 sh -c "curl -s --max-time 3 $url/latest | grep -q '\"model\":\"$reload_model\"'"; then
  figure reload_new_model_seconds "$(since "$t0")"
  pass "reload: the new model is in use: $(model_in_use); $(model_info)"
else fail reload-model "the new model ($reload_model) is not in /latest 90 s after the reload"; fi
if wait_for 30 classified_above "$(classified)"; then pass "reload: results keep flowing (classified $before -> $(classified))"
else fail reload-flow "no classification after the reload"; fi
if active && [ "$(prop MainPID)" = "$main_pid" ]; then pass "reload: same process (pid $main_pid, NRestarts $(prop NRestarts))"
else fail reload-restart "the daemon restarted on reload"; fi
jcur=$(journalctl -u $unit --no-pager -o cat | wc -l)
set_conf model path "$models/model-bad.onnx"
systemctl reload $unit || fail reload-bad "systemctl reload failed"
if wait_for 60 sh -c "journalctl -u $unit --no-pager -o cat | tail -n +$((jcur + 1)) | grep -qi 'model-bad'"; then
  pass "bad model: the journal says why: $(journalctl -u $unit --no-pager -o cat | tail -n +$((jcur + 1)) | grep -i model-bad | head -1 | head -c 300)"
else fail reload-bad-journal "nothing about model-bad.onnx in the journal 60 s after the reload"; fi
m=$(model_in_use)
if active && [ "$(prop MainPID)" = "$main_pid" ] && wait_for 30 classified_above "$(classified)" && [ "$m" = "$reload_model" ]; then
  pass "bad model: the old model is kept ($m) and results keep flowing; status: $(prop StatusText | head -c 200)"
else fail reload-bad "after a bad model: active=$(systemctl is-active $unit) model=$m"; fi
cat /tmp/ci-conf.orig > "$conf"   # for the restarts below

# ---------------------------------------------------------------- 7. watchdog: a hung pipeline is killed and restarted
# The daemon's fault injection: RESNET_EDGE_TEST_HANG_AFTER=N makes the frame loop hang (and so stop sending
# WATCHDOG=1) after its first result N seconds into the run, while the HTTP threads keep answering.
{
  wd=$(prop WatchdogUSec)
  mkdir -p /run/systemd/system/$unit.service.d
  printf '[Service]\nEnvironment=RESNET_EDGE_TEST_HANG_AFTER=3\n' > /run/systemd/system/$unit.service.d/hang.conf
  systemctl daemon-reload
  r0=$(prop NRestarts)
  systemctl restart $unit
  t0=$(now)
  if wait_for 90 sh -c "[ \$(systemctl show -p NRestarts --value $unit) -gt $r0 ]"; then
    figure watchdog_restart_seconds "$(since "$t0")"
    if journalctl -u $unit --no-pager -o cat | grep -q 'Watchdog timeout'; then
      pass "watchdog: hung pipeline killed and restarted (WatchdogUSec $wd, NRestarts $(prop NRestarts))"
    else fail watchdog "restarted but no 'Watchdog timeout' in the journal"; fi
  else fail watchdog "no watchdog restart within 90 s (WatchdogUSec $wd)"; fi
  rm -rf /run/systemd/system/$unit.service.d
  systemctl daemon-reload
  timeout 120 systemctl restart $unit && active || fail watchdog-restart "could not restart after the watchdog test"
}

# ---------------------------------------------------------------- 8. stop within 2 s
check_stop

# ---------------------------------------------------------------- 9. the package: install, upgrade restarts, removal stops
# The binary, unit and config this test put in place by hand make way for the package's (dpkg then owns them).
if [ -e /root/resnet-edge.deb ]; then
  rm -f /usr/bin/resnet-edge /lib/systemd/system/$unit.service /etc/resnet-edge/resnet-edge.toml
  systemctl daemon-reload
  if dpkg -i /root/resnet-edge.deb > /tmp/ci-dpkg.log 2>&1; then pass "package: dpkg -i $(dpkg-query -W -f='${Version}' resnet-edge)"
  else sed 's/^/CI:   /' /tmp/ci-dpkg.log; abort package "dpkg -i failed"; fi
  # The user's edit: 3 classes per result instead of 5.
  sed -i 's/^top_k = .*/top_k = 3/' /etc/resnet-edge/resnet-edge.toml
  top_k() { get /latest | jq -r '.labels | length' 2>/dev/null; }
  if timeout 120 systemctl start $unit && active && wait_for 30 sh -c "[ \"\$(curl -s --max-time 3 $url/latest | jq -r '.labels | length')\" = 3 ]"; then
    pkg_pid=$(prop MainPID)
    pass "package: the installed service runs the edited config (pid $pkg_pid, $(top_k) classes per result)"
  else fail package-start "the installed service did not start with the edited config ($(systemctl is-active $unit), top_k $(top_k))"; fi
  if dpkg -i /root/resnet-edge-newer.deb > /tmp/ci-dpkg.log 2>&1 </dev/null; then
    pass "package: upgraded to $(dpkg-query -W -f='${Version}' resnet-edge)"
  else sed 's/^/CI:   /' /tmp/ci-dpkg.log; fail package-upgrade "dpkg -i of the newer version failed"; fi
  if wait_for 60 sh -c "systemctl is-active -q $unit && [ \"\$(systemctl show -p MainPID --value $unit)\" != \"${pkg_pid:-x}\" ] && [ \"\$(curl -s --max-time 3 $url/latest | jq -r '.labels | length')\" = 3 ]"; then
    pass "package: the upgrade restarted the running service (pid ${pkg_pid:-?} -> $(prop MainPID)) and kept the edited config ($(top_k) classes)"
  else fail package-restart "after the upgrade: $(systemctl is-active $unit), pid $(prop MainPID) (was ${pkg_pid:-?}), top_k $(top_k), config: $(grep '^top_k' /etc/resnet-edge/resnet-edge.toml)"; fi
  if dpkg -r resnet-edge > /tmp/ci-dpkg.log 2>&1 && ! active && [ ! -e /usr/bin/resnet-edge ]; then
    pass "package: removal stopped the service ($(systemctl is-active $unit)) and removed the binary"
  else sed 's/^/CI:   /' /tmp/ci-dpkg.log; fail package-remove "after dpkg -r: $(systemctl is-active $unit), binary $(ls /usr/bin/resnet-edge 2>&1)"; fi
fi
finish
