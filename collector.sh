#!/usr/bin/env bash
# collector.sh - read-only snapshot collector for Kargo + Argo CD pipelines.
#
# Gathers the state a diagnostician needs (Kargo and Argo CD objects, workloads,
# events, controller and verification logs, API discovery) in parallel, redacts
# it, and writes one bundle: gitops-bundle-<UTC yyyymmddThhmmssZ>.tar.gz with a
# single top-level directory of the same name (format "gitops-bundle/v1", see
# DESIGN.md). Analyse it later, anywhere, with `gitops-master`.
#
# Needs only bash >= 4.2, kubectl, tar, gzip, coreutils, sed and awk (any POSIX
# awk: mawk, gawk and busybox awk behave the same).
#
# Usage:
#   ./collector.sh [options]
#   ./collector.sh --help
#
# Safety:
#   * Read-only by construction: every kubectl call goes through kube_exec,
#     which refuses any verb other than get, logs, version, api-resources,
#     api-versions and auth can-i (and refuses --watch / --follow). `get --raw`
#     (always a GET) is allowed for two paths only: /apis, and a Prometheus
#     Service's /api/v1/targets?state=active through the API server's service
#     proxy.
#   * Secret values are never requested in a form that carries them: Secrets
#     are listed through a go-template that prints names, types and key names.
#   * Everything else is streamed through a redaction filter before it is
#     written (see REDACTION_RULES and --no-redact).
#
# Environment discovery, in this order (a later source wins over an earlier
# one for the same key): .gitops-config.yaml in the current directory (or
# --config FILE), environment variables GITOPS_<KEY>, command-line flags; keys
# still missing are discovered from the cluster; what cannot be discovered gets
# a default or stays empty. Each value is recorded in manifest.json "config"
# with its source (config-file, env, flag, prompt, discovered, default), plus
# "context" and "kubeconfig".
#
# Reaching the cluster: kubectl runs locally (KUBECONFIG, --kubeconfig and
# --context are honoured), or, with ssh_command set, as
#   <ssh_command> '<kubectl command line>'
# The prefix is shell words (it may start with VAR=value, e.g.
# "MISE_ENV=test mise run server:ssh"); the kubectl command line is passed as
# one argument quoted for the remote shell, the way ssh expects it. KUBECONFIG
# is not forwarded over ssh: use --kubeconfig / --context for the remote side.
#
# Bundle layout (inside gitops-bundle-<ts>/), format "gitops-bundle/v1":
#   manifest.json       format, collector, collected_at, finished_at, complete,
#                       interrupted, kubectl {client, server}, config {key:
#                       {value, source[, values]}}, options, redaction
#                       {enabled, replacement, rules, counts}, commands [{id,
#                       argv, output, started_at, finished_at, exit_code,
#                       status, optional, stderr, bytes, sha256}]
#   config.yaml         the resolved .gitops-config.yaml keys
#   cluster-resources/<plural>/<namespace>.json             namespaced built-ins
#   cluster-resources/<plural>.json                         cluster-scoped built-ins
#   cluster-resources/custom-resources/<plural>.<group>/<namespace>.json
#   cluster-resources/custom-resources/<plural>.<group>.json
#   cluster-resources/customresourcedefinitions.json        every CRD without its
#       schema: names, group, scope, versions (served/storage/printer columns),
#       labels and annotations (a go-template summary; full CRDs are megabytes)
#   cluster-resources/secrets/<namespace>.json              names, types, key
#       names only; every value is ""
#   cluster-resources/pods-not-running.json                 pods in any namespace
#       whose phase is neither Running nor Succeeded (the V2 quick check)
#   cluster-resources/pods/logs/<ns>/<pod>/<container>[-previous].log
#   cluster-resources/custom-resources/prometheustargets.bundle.gitops-master.io/<ns>.json
#       the answer of /api/v1/targets?state=active of each Prometheus Service
#       of the namespace (through the service proxy), unchanged, wrapped as
#       a List of PrometheusTarget objects (only where a Prometheus Service
#       was found)
#   cluster-resources/version.json, resources.json, groups.json
#   views/<id>.txt      the tables a person reads: stages-wide-<ns>,
#                       promotions-<ns>, freight-<ns>, analysisruns-<ns>,
#                       applications-<ns>, kargo-pods-<ns>, argocd-pods-<ns>,
#                       events-warnings-<ns>, pods-not-running-wide, can-i-<ns>
# Command status: ok, partial (failed but what it wrote is valid, e.g. a log
# cut by a timeout, or the targets of one Prometheus Service of two),
# forbidden, unauthorized, not-served (missing CRD), not-found, timeout,
# unreachable, error, interrupted (stopped by the deadline or a signal),
# skipped (never started). Discovery commands (discover-*,
# log-targets/*) keep their output out of the bundle: output is null.
# "optional": true marks a command whose failure is no gap in the data: the
# discovery queries (what they could not find shows in the config's sources)
# and `auth can-i --list` (a SelfSubjectRulesReview, which kubectl POSTs and a
# read-only replay such as `gitops-master serve` refuses).
#
# How a run goes: phase 1 asks for the version, the API groups and the
# discovery queries in parallel; as soon as the API groups arrive, the
# cluster-wide commands (nodes, namespaces, CRDs, cluster roles, unhealthy
# pods, api-resources) join the pool. Phase 2 starts when the discovery
# queries are done: logs first (the Kargo, Argo CD and Job pods that discovery
# listed; a per-namespace listing when the namespaces came from flags or
# config), then every namespaced command. Resources are named
# PLURAL.VERSION.GROUP with the group's preferred version from /apis, which
# kubectl maps from its discovery cache; with PLURAL.GROUP it would first try
# version "kargo" of group "akuity.io", fail, and fetch every API group again
# in every call. Jobs report completion on a FIFO, so the pool refills at once.
#
# Exit codes: 0 bundle written and complete (failed commands are recorded as
# gaps); 1 bundle written but incomplete (deadline reached) or with nothing
# collected at all, or it could not be written; 2 bad arguments or no
# Kargo/Argo CD namespace known; 130/143 interrupted (SIGINT/SIGTERM) - the
# bundle collected so far is still written, with "complete": false.

set -u
set -o pipefail
set -f  # no pathname expansion anywhere: names from the cluster are data

COLLECTOR_NAME="collector.sh"
COLLECTOR_VERSION="0.1.0"
BUNDLE_FORMAT="gitops-bundle/v1"
HIDDEN='***HIDDEN***'

export LC_ALL=C
export TZ=UTC

# The .gitops-config.yaml keys, in the playbook's order.
CONFIG_KEYS=(ssh_command kargo_namespace kargo_controller_namespace argocd_namespace
  argocd_controller_namespace monitoring_namespace app_namespace domain kargo_project
  warehouse_name)
# Keys that accept a comma-separated list of values.
LIST_KEYS=" kargo_namespace argocd_namespace app_namespace kargo_project warehouse_name "

REDACTION_RULES=(last-applied-configuration pem-private-key url-credentials
  authorization-header bearer-token aws-access-key github-token gitlab-token
  bitbucket-token npm-token google-api-key slack-token slack-webhook jwt
  docker-config-auth cli-secret-flag env-secret-value secret-field)

ARGOCD_LOG_COMPONENTS="argocd-application-controller,argocd-repo-server,argocd-server,argocd-applicationset-controller"

# ---------------------------------------------------------------------------
# awk programs (portable: mawk, gawk, busybox awk; run with LC_ALL=C)
# ---------------------------------------------------------------------------

# Redaction filter. -v countfile=PATH receives "rule count" lines at the end;
# -v metafile=PATH one line "<bytes written> <first> <last>": the output's size
# and, with -v jsoncheck=1, its first and last non-blank characters ("-": none),
# which spares a wc and a tail per command.
read -r -d '' REDACT_AWK <<'AWK'
function emit(s,    t) {
  print s
  NBYTES += length(s) + 1
  if (jsoncheck && s ~ /[^ \t\r]/) {
    if (FIRSTC == "") { match(s, /[^ \t\r]/); FIRSTC = substr(s, RSTART, 1) }
    t = s; sub(/[ \t\r]+$/, "", t); LASTC = substr(t, length(t), 1)
  }
}
function rep(c, n,    s, i) { s = ""; for (i = 0; i < n; i++) s = s c; return s }
function secretish(k,    lk) {
  lk = tolower(k)
  if (lk !~ SECRET_RE) return 0
  if (lk ~ EXCL_RE) return 0
  return 1
}
function maskable(v, quoted,    lv, c) {
  if (v == "" || index(v, H)) return 0
  lv = tolower(v)
  if (lv ~ /^(true|false|null|nil|none|yes|no|on|off|enabled|disabled|required|optional|redacted|hidden)$/) return 0
  if (lv ~ /^[*]+$/) return 0
  if (!quoted && lv ~ /^-?[0-9]+([.][0-9]+)?[a-z]?[a-z]?$/) return 0
  c = substr(v, 1, 1)
  if (c == "$" || c == "<" || c == "{" || c == "[") return 0
  if (!quoted && c == "-") return 0
  return 1
}
# Mask every match of re in s: keep the part matching pre (anchored ^) at the
# start and suf (anchored $) at the end of each match, hide the middle.
function mask_all(s, re, rule, pre, suf, ci,    out, rest, lrest, m, lm, st, ln, p, q, mid) {
  out = ""; rest = s
  while (1) {
    lrest = ci ? tolower(rest) : rest
    if (!match(lrest, re)) break
    st = RSTART; ln = RLENGTH
    if (ln <= 0) { out = out substr(rest, 1, st); rest = substr(rest, st + 1); continue }
    m = substr(rest, st, ln); lm = substr(lrest, st, ln)
    p = 0; q = 0
    if (pre != "" && match(lm, pre)) p = RLENGTH
    if (suf != "" && match(lm, suf)) q = RLENGTH
    if (p + q < ln) {
      mid = substr(m, p + 1, ln - p - q)
      if (mid != H && index(mid, H) == 0) {
        m = substr(m, 1, p) H substr(m, ln - q + 1)
        CNT[rule]++
      }
    }
    out = out substr(rest, 1, st - 1) m
    rest = substr(rest, st + ln)
  }
  return out rest
}
# Value of a JSON string that starts at position pos of s (after the quote).
function qvalue_len(s, pos, esc) {
  if (match(substr(s, pos), esc ? VE : VQ)) return RLENGTH
  return 0
}
# "key": "value" (esc=0) or \"key\": \"value\" (esc=1) with a secret-looking key.
function kv_json(s, esc, rule, forcekey,    out, rest, st, ln, m, key, vl, v) {
  out = ""; rest = s
  while (match(rest, esc ? KE : KQ)) {
    st = RSTART; ln = RLENGTH
    m = substr(rest, st, ln)
    key = m; gsub(BSL, "", key); sub(/^"/, "", key); sub(/"[ \t]*:[ \t]*"$/, "", key)
    out = out substr(rest, 1, st + ln - 1)
    rest = substr(rest, st + ln)
    vl = qvalue_len(rest, 1, esc)
    v = substr(rest, 1, vl)
    if (forcekey != "" ? (key == forcekey && v != "" && v != H) : (secretish(key) && maskable(v, 1))) {
      out = out H; CNT[rule]++
    } else {
      out = out v
    }
    rest = substr(rest, vl + 1)
  }
  return out rest
}
# Unquoted key: value (YAML, at a line start) and key=value (logfmt, env, URLs).
function kv_plain_one(s, st, ln, sep,    m, key, pre, rest, v, qc) {
  # s: whole string; [st, st+ln) matched "<boundary>key<sep>[quote]"
  m = substr(s, st, ln)
  key = m
  if (sep == ":") sub("[ \t]*:[ \t]*" BSL "?[\"']?$", "", key)
  else sub("=" BSL "?[\"']?$", "", key)
  sub("^" BSL "n", "", key)
  if (match(key, /[A-Za-z0-9_.\/-]+$/)) key = substr(key, RSTART)
  pre = substr(s, 1, st + ln - 1)
  rest = substr(s, st + ln)
  qc = substr(m, ln, 1)
  v = ""
  if (qc == "\"" || qc == "\047") {
    # quoted value: up to the closing quote (or a backslash)
    if (match(rest, "^[^" qc "\\\\]+")) v = substr(rest, 1, RLENGTH)
  } else if (match(rest, UV)) v = substr(rest, 1, RLENGTH)
  if (secretish(key) && maskable(v, 0)) {
    CNT["secret-field"]++
    return pre H SUBSEP substr(rest, length(v) + 1)
  }
  return pre v SUBSEP substr(rest, length(v) + 1)
}
function kv_plain(s, re, sep,    out, rest, r, k) {
  out = ""; rest = s
  while (match(rest, re)) {
    r = kv_plain_one(rest, RSTART, RLENGTH, sep)
    k = index(r, SUBSEP)
    out = out substr(r, 1, k - 1)
    rest = substr(r, k + 1)
  }
  return out rest
}
function kv_plain_start(s, re, sep,    r, k) {
  if (!match(s, re)) return s
  r = kv_plain_one(s, RSTART, RLENGTH, sep)
  k = index(r, SUBSEP)
  return substr(r, 1, k - 1) substr(r, k + 1)
}
# {"name": "X", "value": "..."} on one line (esc=1: inside a JSON string).
function env_compact(s, esc,    out, rest, st, ln, m, key, vl, v) {
  out = ""; rest = s
  while (match(rest, esc ? ENVE : ENVQ)) {
    st = RSTART; ln = RLENGTH
    m = substr(rest, st, ln); gsub(BSL, "", m)
    key = m; sub(/^"name"[ \t]*:[ \t]*"/, "", key); key = substr(key, 1, index(key, "\"") - 1)
    out = out substr(rest, 1, st + ln - 1)
    rest = substr(rest, st + ln)
    vl = qvalue_len(rest, 1, esc); v = substr(rest, 1, vl)
    if (secretish(key) && maskable(v, 1)) { out = out H; CNT["env-secret-value"]++ } else out = out v
    rest = substr(rest, vl + 1)
  }
  return out rest
}
function cli_flags(s,    out, rest, st, ln, m, key, v) {
  out = ""; rest = s
  while (match(rest, CLI_RE)) {
    st = RSTART; ln = RLENGTH
    m = substr(rest, st, ln)
    key = m; sub(/^--/, "", key); sub(/[^A-Za-z0-9_-].*$/, "", key)
    out = out substr(rest, 1, st + ln - 1)
    rest = substr(rest, st + ln)
    v = ""
    if (match(rest, CLI_V)) v = substr(rest, 1, RLENGTH)
    if (secretish(key) && maskable(v, 0)) { out = out H; CNT["cli-secret-flag"]++ } else out = out v
    rest = substr(rest, length(v) + 1)
  }
  return out rest
}
BEGIN {
  H = "***HIDDEN***"
  BSL = "[\\\\]"
  SECRET_BASE = "passw(or)?d|passphrase|secret|token|api[-_.]?key|access[-_.]?key|private[-_.]?key|client[-_.]?key|account[-_.]?key|signing[-_.]?key|encryption[-_.]?key|credential|keydata|certkey|auth($|[^a-z])|signature($|[^a-z])|hmac($|[^a-z])"
  # a key name (whole): also "sig", the signature of an Azure SAS URL
  SECRET_RE = SECRET_BASE "|^sig$"
  # a line worth the key/value passes
  SECRET_SCAN = SECRET_BASE "|[^a-z]sig[^a-z]"
  EXCL_RE = "(name|names|ref|refs|selector|namespace|namespaces|type|types|path|paths|file|files|dir|mode|enabled|disabled|seconds|count|timeout|ttl|expiry|expiration|expires|url|urls|uri|endpoint|header|policy|format|length|duration|issuer|audience|audiences|version|kind|template|field|fields|keyref|key-ref|key_ref)$"
  VQ = "^([^\"\\\\]|\\\\.)*"
  VE = "^[^\"\\\\]*"
  KQ = "\"[^\"\\\\]*\"[ \t]*:[ \t]*\""
  KE = BSL "\"[^\"\\\\]*" BSL "\"[ \t]*:[ \t]*" BSL "\""
  ENVQ = "\"name\"[ \t]*:[ \t]*\"[^\"\\\\]*\"[ \t]*,[ \t]*\"value\"[ \t]*:[ \t]*\""
  ENVE = BSL "\"name" BSL "\"[ \t]*:[ \t]*" BSL "\"[^\"\\\\]*" BSL "\"[ \t]*,[ \t]*" BSL "\"value" BSL "\"[ \t]*:[ \t]*" BSL "\""
  LAC = "kubectl.kubernetes.io/last-applied-configuration"
  # unquoted values stop at blanks, quotes, backslashes and separators
  UV = "^[^] \t\"',;&})\\\\]+"
  YAML_START = "^[ \t]*(-[ \t]+)?[A-Za-z0-9_.-]+[ \t]*:[ \t]+" BSL "?[\"']?"
  YAML_IN = "(" BSL "n[ \t]*|[{][ \t]*|,[ \t]+)(-[ \t]+)?[A-Za-z0-9_.-]+[ \t]*:[ \t]+" BSL "?[\"']?"
  EQ_START = "^[A-Za-z0-9_.-]+=" BSL "?[\"']?"
  EQ_IN = "[ \t?&;:,({\"'\\\\][A-Za-z0-9_.-]+=" BSL "?[\"']?"
  # --key=value, --key value, and "--key", "value" (an argument list in JSON)
  CLI_RE = "--[A-Za-z0-9_-]+(=|[ \t]+|" BSL "?\"[ \t]*,[ \t]*" BSL "?\")"
  CLI_V = "^" BSL "?[\"']?[^ \t\"',\\\\]+"
  URL_RE = "[a-z][a-z0-9+.-]*://[^/@ \t\"'\\\\<>:]+:[^/@ \t\"'\\\\<>]+@"
  URL_PRE = "^[a-z][a-z0-9+.-]*://"
  # a token as the whole user part: https://<token>@host (long, so that git@ and the like stay)
  URL_TOK_RE = "https?://" rep("[a-z0-9._~%+-]", 16) "[a-z0-9._~%+-]*@"
  URL_TOK_PRE = "^https?://"
  AUTHZ_RE = "authorization" BSL "?[\"']?[ \t]*[:=][ \t]*" BSL "?[\"']?[^\"'\\\\{[ \t][^\"\\\\]*"
  AUTHZ_PRE = "^authorization" BSL "?[\"']?[ \t]*[:=][ \t]*" BSL "?[\"']?"
  BEARER_RE = "bearer[ \t]+" rep("[a-z0-9._~+/=-]", 16) "[a-z0-9._~+/=-]*"
  BEARER_PRE = "^bearer[ \t]+"
  AWS_RE = "(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)" rep("[A-Z0-9]", 16)
  GH_RE = "(gh[pousr]_" rep("[A-Za-z0-9]", 36) "[A-Za-z0-9]*|github_pat_" rep("[A-Za-z0-9_]", 22) "[A-Za-z0-9_]*)"
  GL_RE = "gl(pat|dt|rt|ptt|cbt|oas|soat)-" rep("[A-Za-z0-9_-]", 20) "[A-Za-z0-9_-]*"
  BB_RE = "ATBB" rep("[A-Za-z0-9_=.-]", 28) "[A-Za-z0-9_=.-]*"
  NPM_RE = "npm_" rep("[A-Za-z0-9]", 36)
  GOOGLE_RE = "AIza" rep("[0-9A-Za-z_-]", 35)
  SLACK_RE = "xox[abposr]-" rep("[A-Za-z0-9-]", 10) "[A-Za-z0-9-]*"
  SLACKHOOK_RE = "hooks[.]slack[.]com/services/[a-z0-9/_-]+"
  SLACKHOOK_PRE = "^hooks[.]slack[.]com/services/"
  JWT_RE = "eyJ" rep("[A-Za-z0-9_-]", 8) "[A-Za-z0-9_-]*[.]eyJ" rep("[A-Za-z0-9_-]", 8) "[A-Za-z0-9_-]*[.][A-Za-z0-9_-]*"
  PEM_BEGIN = "-----BEGIN[A-Z ]*PRIVATE KEY-----"
  PEM_END = "-----END[A-Z ]*PRIVATE KEY-----"
  PEM_FULL = PEM_BEGIN ".*" PEM_END
  PEM_TRUNC = PEM_BEGIN "([A-Za-z0-9+/= \t:,-]|" BSL "[nrt])+"
  PEM_BODY = "^([0-9][0-9TZ:.+-]* )?[ \t]*([A-Za-z0-9+/=]+|[A-Za-z-]+:.*)?[ \t]*\r?$"
  DOCKER_RE = BSL "?\"auth" BSL "?\"[ \t]*:[ \t]*" BSL "?\"[A-Za-z0-9+/=]+"
  DOCKER_PRE = "^" BSL "?\"auth" BSL "?\"[ \t]*:[ \t]*" BSL "?\""
  SSHPASS_RE = "sshpass[ \t]+-p[ \t]*[^ \t]+"
  SSHPASS_PRE = "^sshpass[ \t]+-p[ \t]*"
  in_pem = 0; env_pending = 0; cli_pending = 0
}
{
  line = $0
  if (in_pem) {
    if (match(line, PEM_END)) {
      # keep a log line's timestamp, drop whatever else precedes the END marker
      rest = substr(line, RSTART); pre = ""
      if (match(line, /^[0-9][0-9TZ:.+-]* /)) pre = substr(line, 1, RLENGTH)
      emit(pre rest); in_pem = 0; next
    }
    if (line ~ PEM_BODY) next
    in_pem = 0
  }
  if (index(line, LAC)) line = kv_json(line, 0, "last-applied-configuration", LAC)
  if (index(line, "PRIVATE KEY-----")) {
    if (match(line, PEM_BEGIN "[ \t]*\r?$")) {
      line = substr(line, 1, RSTART - 1) substr(line, RSTART, RLENGTH) H
      CNT["pem-private-key"]++; in_pem = 1
      emit(line); next
    }
    line = mask_all(line, PEM_FULL, "pem-private-key", "^" PEM_BEGIN, PEM_END "$", 0)
    line = mask_all(line, PEM_TRUNC, "pem-private-key", "^" PEM_BEGIN, "", 0)
  }
  if (index(line, "://")) {
    line = mask_all(line, URL_RE, "url-credentials", URL_PRE, "@$", 1)
    line = mask_all(line, URL_TOK_RE, "url-credentials", URL_TOK_PRE, "@$", 1)
  }
  L = tolower(line)
  if (index(L, "authorization")) line = mask_all(line, AUTHZ_RE, "authorization-header", AUTHZ_PRE, "", 1)
  if (index(L, "bearer")) line = mask_all(line, BEARER_RE, "bearer-token", BEARER_PRE, "", 1)
  if (line ~ AWS_RE) line = mask_all(line, AWS_RE, "aws-access-key", "", "", 0)
  if (index(line, "gh") || index(line, "github_pat_")) line = mask_all(line, GH_RE, "github-token", "", "", 0)
  if (index(line, "gl")) line = mask_all(line, GL_RE, "gitlab-token", "", "", 0)
  if (index(line, "ATBB")) line = mask_all(line, BB_RE, "bitbucket-token", "", "", 0)
  if (index(line, "npm_")) line = mask_all(line, NPM_RE, "npm-token", "", "", 0)
  if (index(line, "AIza")) line = mask_all(line, GOOGLE_RE, "google-api-key", "", "", 0)
  if (index(line, "xox")) line = mask_all(line, SLACK_RE, "slack-token", "", "", 0)
  if (index(L, "hooks.slack.com")) line = mask_all(line, SLACKHOOK_RE, "slack-webhook", SLACKHOOK_PRE, "", 1)
  if (index(line, "eyJ")) line = mask_all(line, JWT_RE, "jwt", "", "", 0)
  if (index(line, "auth")) line = mask_all(line, DOCKER_RE, "docker-config-auth", DOCKER_PRE, "", 0)
  if (index(line, "--")) line = cli_flags(line)
  if (index(line, "sshpass")) line = mask_all(line, SSHPASS_RE, "cli-secret-flag", SSHPASS_PRE, "", 0)
  if (cli_pending) {
    # the value of a secret-looking flag, the next element of a pretty-printed JSON argument list
    cli_pending = 0
    if (match(line, /^[ \t]*"/)) {
      st = RLENGTH
      vl = qvalue_len(line, st + 1, 0); v = substr(line, st + 1, vl)
      if (maskable(v, 1) && substr(v, 1, 2) != "--") { line = substr(line, 1, st) H substr(line, st + vl + 1); CNT["cli-secret-flag"]++ }
    }
  }
  if (match(line, /^[ \t]*"--[A-Za-z0-9_-]+",?[ \t]*$/)) {
    nm = line; sub(/^[ \t]*"--/, "", nm); sub(/".*$/, "", nm)
    if (secretish(nm)) cli_pending = 1
  }
  if (env_pending) {
    env_pending = 0
    if (match(line, /^[ \t]*"value":[ \t]*"/)) {
      st = RLENGTH
      vl = qvalue_len(line, st + 1, 0); v = substr(line, st + 1, vl)
      if (maskable(v, 1)) { line = substr(line, 1, st) H substr(line, st + vl + 1); CNT["env-secret-value"]++ }
    }
  }
  if (match(line, /^[ \t]*"name":[ \t]*"[^"\\]*",[ \t]*$/)) {
    nm = line; sub(/^[ \t]*"name":[ \t]*"/, "", nm); sub(/",[ \t]*$/, "", nm)
    if (secretish(nm)) env_pending = 1
  }
  if (index(line, "\"name\"")) line = env_compact(line, 0)
  if (index(line, "\\\"name\\\"")) line = env_compact(line, 1)
  if (tolower(line) ~ SECRET_SCAN) {
    line = kv_json(line, 0, "secret-field", "")
    if (index(line, "\\\"")) line = kv_json(line, 1, "secret-field", "")
    if (index(line, ":")) { line = kv_plain_start(line, YAML_START, ":"); line = kv_plain(line, YAML_IN, ":") }
    if (index(line, "=")) { line = kv_plain_start(line, EQ_START, "="); line = kv_plain(line, EQ_IN, "=") }
  }
  emit(line)
}
END {
  if (countfile != "") {
    for (r in CNT) if (CNT[r] > 0) print r, CNT[r] > countfile
    close(countfile)
  }
  if (metafile != "") {
    printf "%d %s %s\n", NBYTES, (FIRSTC == "" ? "-" : FIRSTC), (LASTC == "" ? "-" : LASTC) > metafile
    close(metafile)
  }
}
AWK

# Turns go-template output built with printf "%q" into valid JSON: Go escapes
# that JSON lacks (\a \v \xNN \UNNNNNNNN) become \u escapes.
read -r -d '' GOTPL_FIX_AWK <<'AWK'
function hexval(h,    i, v) {
  v = 0; h = tolower(h)
  for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
  return v
}
function uesc(v,    hi, lo) {
  if (v < 65536) return sprintf("\\u%04x", v)
  v -= 65536; hi = 55296 + int(v / 1024); lo = 56320 + v % 1024
  return sprintf("\\u%04x\\u%04x", hi, lo)
}
{
  s = $0
  if (index(s, "\\") == 0) { print s; next }
  out = ""; i = 1
  while ((p = index(substr(s, i), "\\")) > 0) {
    out = out substr(s, i, p - 1); i += p - 1
    e = substr(s, i + 1, 1)
    if (e == "a") { out = out "\\u0007"; i += 2 }
    else if (e == "v") { out = out "\\u000b"; i += 2 }
    else if (e == "x") { out = out uesc(hexval(substr(s, i + 2, 2))); i += 4 }
    else if (e == "U") { out = out uesc(hexval(substr(s, i + 2, 8))); i += 10 }
    else if (e == "'") { out = out "'"; i += 2 }
    else { out = out "\\" e; i += 2 }
  }
  print out substr(s, i)
}
AWK

# Prints the JSON value of top-level member -v key=NAME of the JSON document
# on stdin (string-aware brace matching; no output if absent).
read -r -d '' JSONGET_AWK <<'AWK'
function skipstr(i,    d) {
  i++
  while (i <= n) {
    d = substr(buf, i, 1)
    if (d == "\\") { i += 2; continue }
    if (d == "\"") return i
    i++
  }
  return n
}
{ buf = buf $0 "\n" }
END {
  n = length(buf); depth = 0; i = 1
  while (i <= n) {
    c = substr(buf, i, 1)
    if (c == "\"") {
      j = skipstr(i)
      if (depth == 1 && substr(buf, i + 1, j - i - 1) == key) {
        k = j + 1
        while (k <= n && substr(buf, k, 1) ~ /[ \t\r\n]/) k++
        if (substr(buf, k, 1) == ":") {
          k++
          while (k <= n && substr(buf, k, 1) ~ /[ \t\r\n]/) k++
          st = k; c = substr(buf, k, 1)
          if (c == "\"") { k = skipstr(k); print substr(buf, st, k - st + 1); exit }
          if (c == "{" || c == "[") {
            d = 0
            while (k <= n) {
              c = substr(buf, k, 1)
              if (c == "\"") { k = skipstr(k) }
              else if (c == "{" || c == "[") d++
              else if (c == "}" || c == "]") { d--; if (d == 0) break }
              k++
            }
            print substr(buf, st, k - st + 1); exit
          }
          while (k <= n && substr(buf, k, 1) !~ /[,}\] \t\r\n]/) k++
          print substr(buf, st, k - st); exit
        }
      }
      i = j + 1; continue
    }
    if (c == "{" || c == "[") depth++
    else if (c == "}" || c == "]") depth--
    i++
  }
}
AWK

# `kubectl api-resources -o wide` table -> JSON array of APIResourceList.
read -r -d '' APIRES_AWK <<'AWK'
function js(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
function jlist(s, sep,    a, k, i, o) {
  gsub(/[][]/, "", s); s = trim(s)
  if (s == "" || s == "<none>") return "[]"
  k = split(s, a, sep); o = ""
  for (i = 1; i <= k; i++) { a[i] = trim(a[i]); if (a[i] != "") o = o (o == "" ? "" : ",") js(a[i]) }
  return "[" o "]"
}
NR == 1 {
  nc = 0; inw = 0; w = ""
  for (i = 1; i <= length($0); i++) {
    ch = substr($0, i, 1)
    if (ch != " " && ch != "\t") { if (!inw) { nc++; POS[nc] = i; w = ""; inw = 1 } w = w ch }
    else { if (inw) COL[nc] = w; inw = 0 }
  }
  if (inw) COL[nc] = w
  next
}
{
  for (k in F) delete F[k]
  for (c = 1; c <= nc; c++) {
    len = (c < nc) ? POS[c + 1] - POS[c] : length($0)
    F[COL[c]] = trim(substr($0, POS[c], len))
  }
  gv = ("APIVERSION" in F) ? F["APIVERSION"] : F["APIGROUP"]
  if (F["NAME"] == "") next
  if (gv == "") gv = "v1"
  if (!(gv in GI)) { ng++; GI[gv] = ng; GV[ng] = gv; RES[ng] = "" }
  g = GI[gv]
  item = "{\"name\":" js(F["NAME"]) ",\"singularName\":\"\",\"namespaced\":" (F["NAMESPACED"] == "true" ? "true" : "false") ",\"kind\":" js(F["KIND"])
  if ("VERBS" in F) { vb = F["VERBS"]; gsub(/,/, " ", vb); item = item ",\"verbs\":" jlist(vb, " ") }
  if (F["SHORTNAMES"] != "") item = item ",\"shortNames\":" jlist(F["SHORTNAMES"], ",")
  if (("CATEGORIES" in F) && F["CATEGORIES"] != "") item = item ",\"categories\":" jlist(F["CATEGORIES"], ",")
  item = item "}"
  RES[g] = RES[g] (RES[g] == "" ? "" : ",\n    ") item
}
END {
  printf "["
  for (g = 1; g <= ng; g++)
    printf "%s\n  {\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\",\"groupVersion\":%s,\"resources\":[\n    %s\n  ]}", (g > 1 ? "," : ""), js(GV[g]), RES[g]
  print "\n]"
}
AWK

# Replaces bytes that are not valid UTF-8 by "?" (input: at most a few KB).
read -r -d '' UTF8_CLEAN_AWK <<'AWK'
BEGIN { for (i = 1; i < 256; i++) ORD[sprintf("%c", i)] = i }
{ buf = buf (NR > 1 ? "\n" : "") $0 }
END {
  n = length(buf); out = ""; i = 1
  while (i <= n) {
    c = substr(buf, i, 1); o = ORD[c]
    if (o < 128) { out = out c; i++; continue }
    lo2 = 128; hi2 = 191
    if (o >= 194 && o <= 223) need = 1
    else if (o >= 224 && o <= 239) { need = 2; if (o == 224) lo2 = 160; if (o == 237) hi2 = 159 }
    else if (o >= 240 && o <= 244) { need = 3; if (o == 240) lo2 = 144; if (o == 244) hi2 = 143 }
    else { out = out "?"; i++; continue }
    ok = 1
    for (k = 1; k <= need; k++) {
      d = ORD[substr(buf, i + k, 1)] + 0
      if (k == 1 && (d < lo2 || d > hi2)) { ok = 0; break }
      if (d < 128 || d > 191) { ok = 0; break }
    }
    if (ok) { out = out substr(buf, i, need + 1); i += need + 1 } else { out = out "?"; i++ }
  }
  printf "%s", out
}
AWK

# Breaks a JSON document after every comma outside strings (one member or
# element per line), so that the line-based redaction never works on a line of
# megabytes (a Prometheus answer is a single line). The document is unchanged
# but for whitespace. Linear: split() and printf, no string growing.
read -r -d '' JSON_LINES_AWK <<'AWK'
{
  n = split($0, P, "\"")
  for (i = 1; i <= n; i++) {
    s = P[i]
    if (!instr) gsub(/,/, ",\n", s)
    printf "%s", s
    if (i < n) {
      printf "\""
      # a quote inside a string ends it unless an odd run of backslashes precedes it
      if (!instr) instr = 1
      else if (!match(s, /\\+$/) || RLENGTH % 2 == 0) instr = 0
    }
  }
  printf "\n"
}
AWK

# Prometheus Services from PROM_SERVICES_JSONPATH lines -> "namespace<TAB>
# service<TAB>port" (each Service once). A Service counts when it is labelled
# operated-prometheus=true (prometheus-operator's prometheus-operated),
# app.kubernetes.io/name=prometheus, app=prometheus or
# app=kube-prometheus-stack-prometheus, and no component label names another
# part of a chart (alertmanager, node-exporter, ...). The port: the one named
# web, else 9090, else the first. -v nss=" ns1 ns2 ": only these namespaces.
read -r -d '' PROM_SERVICES_AWK <<'AWK'
function dns_label(s) { return length(s) <= 63 && s ~ /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/ }
function part_ok(c) { return c == "" || c == "server" || c == "prometheus" }
BEGIN { FS = "\t" }
{
  ns = $1; svc = $2
  if (!dns_label(ns) || !dns_label(svc)) next
  if (!($3 == "true" || $4 == "prometheus" || $5 == "prometheus" || $5 == "kube-prometheus-stack-prometheus")) next
  if (!part_ok($6) || !part_ok($7)) next
  if (nss != "" && !index(nss, " " ns " ")) next
  if ((ns "/" svc) in SEEN) next
  web = ""; std = ""; first = ""
  k = split($8, P, " ")
  for (i = 1; i <= k; i++) {
    name = P[i]; sub(/:[^:]*$/, "", name)
    port = P[i]; sub(/^.*:/, "", port)
    if (port !~ /^[0-9]+$/ || port + 0 < 1 || port + 0 > 65535) continue
    port = port + 0
    if (first == "") first = port
    if (name == "web" && web == "") web = port
    if (port == 9090 && std == "") std = port
  }
  port = web != "" ? web : (std != "" ? std : first)
  if (port == "") next
  SEEN[ns "/" svc] = 1
  print ns "\t" svc "\t" port
}
AWK

# .gitops-config.yaml (flat "key: value" lines) -> "key<TAB>value" lines;
# "!<line number><TAB><text>" for lines it cannot read.
read -r -d '' CONFIG_AWK <<'AWK'
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
function unquote(s,    c, v, i, n, ch, nx) {
  s = trim(s); c = substr(s, 1, 1); n = length(s)
  if (c == "\"") {
    v = ""; i = 2
    while (i <= n) {
      ch = substr(s, i, 1)
      if (ch == "\\") { nx = substr(s, i + 1, 1); v = v (nx == "n" || nx == "t" ? " " : nx); i += 2; continue }
      if (ch == "\"") break
      v = v ch; i++
    }
    return v
  }
  if (c == "\047") {
    v = ""; i = 2
    while (i <= n) {
      ch = substr(s, i, 1)
      if (ch == "\047") { if (substr(s, i + 1, 1) == "\047") { v = v ch; i += 2; continue } break }
      v = v ch; i++
    }
    return v
  }
  sub(/[ \t]+#.*$/, "", s)
  return trim(s)
}
{ sub(/\r$/, "") }
/^[ \t]*(#|$)/ { next }
/^---[ \t]*$/ { next }
{
  if (!match($0, /^[ \t]*[A-Za-z_][A-Za-z0-9_-]*[ \t]*:/)) { print "!" NR "\t" $0; next }
  key = trim(substr($0, 1, RLENGTH - 1))
  rest = trim(substr($0, RLENGTH + 1))
  if (substr(rest, 1, 1) == "[") {
    sub(/[ \t]+#[^\]]*$/, "", rest)
    gsub(/^\[|\][ \t]*$/, "", rest)
    k = split(rest, parts, ","); val = ""
    for (i = 1; i <= k; i++) { p = unquote(parts[i]); if (p != "") val = val (val == "" ? "" : ",") p }
  } else {
    val = unquote(rest)
  }
  gsub(/\t/, " ", val)
  print key "\t" val
}
AWK

# Go templates (run by kubectl, client side) that print JSON Lists.
# Secrets: metadata and key names only; "data" values are always "".
# shellcheck disable=SC2016
SECRET_TPL='{"apiVersion":"v1","kind":"List","items":[{{$n := ""}}{{range .items}}{{$n}}{"apiVersion":"v1","kind":"Secret","metadata":{"name":{{printf "%q" .metadata.name}},"namespace":{{printf "%q" .metadata.namespace}}{{with .metadata.uid}},"uid":{{printf "%q" .}}{{end}}{{with .metadata.creationTimestamp}},"creationTimestamp":{{printf "%q" .}}{{end}},"labels":{ {{$ls := ""}}{{range $k, $v := .metadata.labels}}{{$ls}}{{printf "%q" $k}}:{{printf "%q" $v}}{{$ls = ","}}{{end}} },"annotations":{ {{$as := ""}}{{range $k, $v := .metadata.annotations}}{{if ne $k "kubectl.kubernetes.io/last-applied-configuration"}}{{$as}}{{printf "%q" $k}}:{{printf "%q" $v}}{{$as = ","}}{{end}}{{end}} }},"type":{{with .type}}{{printf "%q" .}}{{else}}null{{end}},"data":{ {{$ds := ""}}{{range $k, $v := .data}}{{$ds}}{{printf "%q" $k}}:""{{$ds = ","}}{{end}} }}{{"\n"}}{{$n = ","}}{{end}}]}'
# CRDs without their (large) schemas.
# shellcheck disable=SC2016
CRD_TPL='{"apiVersion":"v1","kind":"List","items":[{{$n := ""}}{{range .items}}{{$n}}{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":{{printf "%q" .metadata.name}}{{with .metadata.creationTimestamp}},"creationTimestamp":{{printf "%q" .}}{{end}}{{with .metadata.generation}},"generation":{{.}}{{end}},"labels":{ {{$ls := ""}}{{range $k, $v := .metadata.labels}}{{$ls}}{{printf "%q" $k}}:{{printf "%q" $v}}{{$ls = ","}}{{end}} },"annotations":{ {{$as := ""}}{{range $k, $v := .metadata.annotations}}{{if ne $k "kubectl.kubernetes.io/last-applied-configuration"}}{{$as}}{{printf "%q" $k}}:{{printf "%q" $v}}{{$as = ","}}{{end}}{{end}} }},"spec":{"group":{{printf "%q" .spec.group}},"scope":{{printf "%q" .spec.scope}},"names":{"kind":{{printf "%q" .spec.names.kind}},"plural":{{printf "%q" .spec.names.plural}}{{with .spec.names.singular}},"singular":{{printf "%q" .}}{{end}},"shortNames":[{{$ss := ""}}{{range .spec.names.shortNames}}{{$ss}}{{printf "%q" .}}{{$ss = ","}}{{end}}],"categories":[{{$cs := ""}}{{range .spec.names.categories}}{{$cs}}{{printf "%q" .}}{{$cs = ","}}{{end}}]},"versions":[{{$vs := ""}}{{range .spec.versions}}{{$vs}}{"name":{{printf "%q" .name}},"served":{{if .served}}true{{else}}false{{end}},"storage":{{if .storage}}true{{else}}false{{end}},"deprecated":{{if .deprecated}}true{{else}}false{{end}},"additionalPrinterColumns":[{{$ps := ""}}{{range .additionalPrinterColumns}}{{$ps}}{"name":{{printf "%q" .name}},"type":{{printf "%q" .type}},"jsonPath":{{printf "%q" .jsonPath}}}{{$ps = ","}}{{end}}]}{{$vs = ","}}{{end}}]},"status":{"storedVersions":[{{$ts := ""}}{{range .status.storedVersions}}{{$ts}}{{printf "%q" .}}{{$ts = ","}}{{end}}]}}{{"\n"}}{{$n = ","}}{{end}}]}'
# Pods in all namespaces -> "namespace<TAB>name-label/component-label<TAB>pod<TAB>container:restarts ...".
POD_TARGETS_JSONPATH='{range .items[*]}{.metadata.namespace}{"\t"}{.metadata.labels.app\.kubernetes\.io/name}{"/"}{.metadata.labels.app\.kubernetes\.io/component}{"\t"}{.metadata.name}{"\t"}{range .status.containerStatuses[*]}{.name}{":"}{.restartCount}{" "}{end}{"\n"}{end}'
# Services -> "namespace<TAB>name<TAB>operated-prometheus<TAB>app.kubernetes.io/name<TAB>app<TAB>
# app.kubernetes.io/component<TAB>component<TAB>port-name:port ..." (labels: PROM_SERVICES_AWK).
PROM_SERVICES_JSONPATH='{range .items[*]}{.metadata.namespace}{"\t"}{.metadata.name}{"\t"}{.metadata.labels.operated-prometheus}{"\t"}{.metadata.labels.app\.kubernetes\.io/name}{"\t"}{.metadata.labels.app}{"\t"}{.metadata.labels.app\.kubernetes\.io/component}{"\t"}{.metadata.labels.component}{"\t"}{range .spec.ports[*]}{.name}{":"}{.port}{" "}{end}{"\n"}{end}'
# Where the Prometheus scrape targets go (a bundle kind, not a Kubernetes one).
PROM_RESOURCE="prometheustargets.bundle.gitops-master.io"
# Pods -> "name<TAB>container:restarts container:restarts ...".
POD_CONTAINERS_JSONPATH='{range .items[*]}{.metadata.name}{"\t"}{range .status.containerStatuses[*]}{.name}{":"}{.restartCount}{" "}{end}{"\n"}{end}'

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

# json_escape STRING: prints STRING escaped for use inside a JSON string
# (quotes, backslashes and every control character; UTF-8 passes through).
json_escape() {
  local out
  json_escape_to out "$1"
  printf '%s' "$out"
}

# json_escape_to VAR STRING: like json_escape, into variable VAR (no subshell).
json_escape_to() {
  # Locals carry a prefix so that they never shadow the caller's VAR.
  local _je_var=$1 _je_s=$2 _je_rest _je_code _je_out=""
  _je_s=${_je_s//\\/\\\\}
  _je_s=${_je_s//\"/\\\"}
  if [[ $_je_s == *[[:cntrl:]]* ]]; then
    _je_s=${_je_s//$'\n'/\\n}
    _je_s=${_je_s//$'\r'/\\r}
    _je_s=${_je_s//$'\t'/\\t}
    _je_s=${_je_s//$'\b'/\\b}
    _je_s=${_je_s//$'\f'/\\f}
    if [[ $_je_s == *[[:cntrl:]]* ]]; then
      _je_rest=$_je_s
      while [[ $_je_rest =~ ^([^[:cntrl:]]*)([[:cntrl:]])(.*)$ ]]; do
        printf -v _je_code '\\u%04x' "'${BASH_REMATCH[2]}"
        _je_out+=${BASH_REMATCH[1]}$_je_code
        _je_rest=${BASH_REMATCH[3]}
      done
      _je_s=$_je_out$_je_rest
    fi
  fi
  printf -v "$_je_var" '%s' "$_je_s"
}

# json_str STRING: prints STRING as a quoted JSON string.
json_str() {
  local e
  json_escape_to e "$1"
  printf '"%s"' "$e"
}

# json_str_or_null STRING: JSON string, or null when STRING is empty.
json_str_or_null() {
  if [[ -z $1 ]]; then printf 'null'; else json_str "$1"; fi
}

# json_array ITEM...: JSON array of strings.
json_array() {
  local out="" e a
  for a in "$@"; do
    json_escape_to e "$a"
    out+=${out:+,}\"$e\"
  done
  printf '[%s]' "$out"
}

# shell_quote WORD: POSIX single quotes when the word needs them.
shell_quote() {
  local q
  shell_quote_to q "$1"
  printf '%s' "$q"
}

# shell_quote_to VAR WORD: like shell_quote, into VAR.
shell_quote_to() {
  if [[ $2 =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
    printf -v "$1" '%s' "$2"
  else
    printf -v "$1" "'%s'" "${2//\'/\'\\\'\'}"
  fi
}

# shell_join WORD...: words quoted and joined by spaces.
shell_join() {
  local _sj_out="" _sj_w _sj_q
  for _sj_w in "$@"; do
    shell_quote_to _sj_q "$_sj_w"
    _sj_out+=${_sj_out:+ }$_sj_q
  done
  printf '%s' "$_sj_out"
}

log() { printf '%s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$COLLECTOR_NAME" "$*" >&2; exit 2; }

# utc_now VAR: RFC 3339 UTC timestamp (milliseconds when the shell has them).
utc_now() {
  local t ms=""
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    t=${EPOCHREALTIME%[.,]*}
    ms=${EPOCHREALTIME#*[.,]}
    ms=".${ms:0:3}"
    printf -v "$1" '%(%Y-%m-%dT%H:%M:%S)T%sZ' "$t" "$ms"
  else
    printf -v "$1" '%(%Y-%m-%dT%H:%M:%S)TZ' -1
  fi
}

# now_ms VAR: milliseconds since the epoch (whole seconds * 1000 without EPOCHREALTIME).
now_ms() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local s=${EPOCHREALTIME%[.,]*} f=${EPOCHREALTIME#*[.,]}
    printf -v "$1" '%d' "$(( s * 1000 + 10#${f:0:3} ))"
  else
    local s
    printf -v s '%(%s)T' -1
    printf -v "$1" '%d' "$(( s * 1000 ))"
  fi
}

# Seconds from a duration like 20, 20s, 5m, 1h.
to_seconds() {
  local v=$1
  case $v in
    *h) v=${v%h}; [[ $v =~ ^[0-9]+$ ]] || return 1; echo $(( v * 3600 )) ;;
    *m) v=${v%m}; [[ $v =~ ^[0-9]+$ ]] || return 1; echo $(( v * 60 )) ;;
    *s) v=${v%s}; [[ $v =~ ^[0-9]+$ ]] || return 1; echo "$v" ;;
    *) [[ $v =~ ^[0-9]+$ ]] || return 1; echo "$v" ;;
  esac
}

# Bytes from a size like 1048576, 20Mi, 512Ki, 1G.
to_bytes() {
  local v=$1 n unit
  [[ $v =~ ^([0-9]+)([KMG]i?|[kmg])?$ ]] || return 1
  n=${BASH_REMATCH[1]}; unit=${BASH_REMATCH[2]}
  case $unit in
    "") echo "$n" ;;
    Ki) echo $(( n * 1024 )) ;;
    Mi) echo $(( n * 1024 * 1024 )) ;;
    Gi) echo $(( n * 1024 * 1024 * 1024 )) ;;
    K|k) echo $(( n * 1000 )) ;;
    M|m) echo $(( n * 1000 * 1000 )) ;;
    G|g) echo $(( n * 1000 * 1000 * 1000 )) ;;
  esac
}

# Unique, sorted words of comma/blank/newline separated lists, space separated.
uniq_words() {
  local -a w=()
  IFS=$' \t\n,' read -r -d '' -a w <<<"$*"
  (( ${#w[@]} > 0 )) || return 0
  printf '%s\n' "${w[@]}" | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# Is word $1 in the space separated list $2?
in_list() { [[ " $2 " == *" $1 "* ]]; }

file_size() { local n; n=$(wc -c <"$1" 2>/dev/null) || n=0; echo $(( n + 0 )); }

# The SHA-256 tool, chosen once (coreutils sha256sum, or perl's shasum).
SHA_TOOL=()
if command -v sha256sum >/dev/null 2>&1; then SHA_TOOL=(sha256sum)
elif command -v shasum >/dev/null 2>&1; then SHA_TOOL=(shasum -a 256); fi

sha256_of() {
  local h=""
  (( ${#SHA_TOOL[@]} > 0 )) && h=$("${SHA_TOOL[@]}" "$1" 2>/dev/null) && h=${h%% *}
  printf '%s' "$h"
}

# ---------------------------------------------------------------------------
# Redaction entry points
# ---------------------------------------------------------------------------

# redact_stream COUNTFILE [METAFILE [JSONCHECK]]: stdin -> stdout through the
# redaction filter; the number of replacements per rule goes to COUNTFILE
# ("rule count" lines), the output's size (and first/last character) to METAFILE.
redact_stream() {
  if [[ ${OPT_REDACT:-1} == 1 ]]; then
    awk -v countfile="${1:-}" -v metafile="${2:-}" -v jsoncheck="${3:-0}" "$REDACT_AWK"
  else
    cat
  fi
}

# redact_string STRING COUNTFILE: prints the redacted string.
redact_string() {
  printf '%s\n' "$1" | redact_stream "${2:-}"
}

# ---------------------------------------------------------------------------
# kubectl: the only way this script talks to the cluster
# ---------------------------------------------------------------------------

# The Prometheus targets through the API server's service proxy (read-only:
# `get --raw` is a GET), the only proxied path the collector may ask for.
RAW_TARGETS_RE='^/api/v1/namespaces/[a-z0-9]([-a-z0-9]*[a-z0-9])?/services/[a-z0-9]([-a-z0-9]*[a-z0-9])?:[0-9]+/proxy/api/v1/targets[?]state=active$'

# raw_path_allowed PATH: the paths `get --raw` may read.
raw_path_allowed() {
  [[ $1 == /apis || $1 =~ $RAW_TARGETS_RE ]]
}

# kube_verb_allowed ARG...: succeeds only for read-only kubectl invocations.
kube_verb_allowed() {
  case ${1-} in
    get|logs|version|api-resources|api-versions) ;;
    auth) [[ ${2-} == can-i ]] || return 1 ;;
    *) return 1 ;;
  esac
  local a prev=""
  for a in "$@"; do
    case $a in
      -w|--watch|--watch=*|--watch-only|--watch-only=*|-f|--follow|--follow=*|--filename|--filename=*) return 1 ;;
      --raw=*) raw_path_allowed "${a#--raw=}" || return 1 ;;
    esac
    if [[ $prev == --raw ]]; then raw_path_allowed "$a" || return 1; fi
    prev=$a
  done
  [[ $prev != --raw ]]
}

# kube_argv ARG...: sets KARGV to the full kubectl argv (global flags last).
kube_argv() {
  KARGV=(kubectl "$@")
  [[ -n $OPT_KUBECONFIG ]] && KARGV+=("--kubeconfig=$OPT_KUBECONFIG")
  [[ -n $OPT_CONTEXT ]] && KARGV+=("--context=$OPT_CONTEXT")
  KARGV+=("--request-timeout=${OPT_REQUEST_TIMEOUT}s")
}

# kube_display ARG...: the command line a person would type.
kube_display() {
  kube_argv "$@"
  local cmd
  cmd=$(shell_join "${KARGV[@]}")
  if [[ -n $SSH_CMD ]]; then printf '%s %s' "$SSH_CMD" "$cmd"; else printf '%s' "$cmd"; fi
}

# kube_exec ARG...: replaces the current (sub)shell with kubectl ARG...,
# through the SSH prefix when one is set. Call it only in a subshell.
kube_exec() {
  if ! kube_verb_allowed "$@"; then
    printf '%s: refusing kubectl %s (not a read-only verb)\n' "$COLLECTOR_NAME" "${1-}" >&2
    exit 126
  fi
  kube_argv "$@"
  # kubectl has no business with the pool's wake-up FIFO.
  [[ -n ${WAKE_FD:-} ]] && exec {WAKE_FD}>&-
  if [[ -n $SSH_CMD ]]; then
    local remote quoted
    remote=$(shell_join "${KARGV[@]}")
    shell_quote_to quoted "$remote"
    # The prefix is shell words (it may start with VAR=value); the remote
    # command is passed as one argument, the way ssh expects it.
    eval "exec env $SSH_CMD $quoted"
  fi
  exec "${KARGV[@]}"
}

# ---------------------------------------------------------------------------
# Command queue and bounded parallel pool
# ---------------------------------------------------------------------------

Q_N=0          # number of queued commands (seq 1..Q_N)
Q_NEXT=1       # lowest seq that may not have been launched yet
PRIO=()        # seqs queued by handlers (logs): launched before the rest
declare -A LAUNCHED Q_SEEN
declare -a Q_ID Q_MODE Q_OUT Q_ARGS Q_HANDLER Q_HARG Q_OPT Q_EXTRA
declare -A RUN_PID RUN_START
RUNNING=0
DONE_N=0
STOP=""
DEADLINE_HIT=0
declare -A STATUS_COUNT
GAPS=()
OPTIONAL_FAILED=()
ENQ_OPTIONAL=0  # set to 1 around enqueue for a command whose failure is no gap
ENQ_EXTRA=""    # set around enqueue: what a job of several calls needs (promtargets: "svc:port ...")

# enqueue ID MODE OUTPUT HANDLER HANDLER_ARG -- KUBECTL_ARG...
#   MODE: json text log secret crd apires groups version disc promtargets
#   OUTPUT: path inside the bundle ("" for disc: kept in the work dir)
#   HANDLER: function called in the main shell when the command succeeded
enqueue() {
  local id=$1 mode=$2 out=$3 handler=$4 harg=$5
  shift 6
  # One command per id (a namespace can play several roles).
  [[ -n ${Q_SEEN[$id]:-} ]] && return 0
  Q_SEEN[$id]=1
  if [[ $OPT_DRY_RUN == 1 ]]; then
    kube_display "$@"
    printf '\n'
    return 0
  fi
  Q_N=$(( Q_N + 1 ))
  Q_ID[Q_N]=$id
  Q_MODE[Q_N]=$mode
  Q_OUT[Q_N]=$out
  Q_HANDLER[Q_N]=$handler
  Q_HARG[Q_N]=$harg
  Q_OPT[Q_N]=$ENQ_OPTIONAL
  Q_EXTRA[Q_N]=$ENQ_EXTRA
  local q
  printf -v q '%q ' "$@"
  Q_ARGS[Q_N]=$q
  [[ ${IN_HANDLER:-0} == 1 ]] && PRIO+=("$Q_N")
  return 0
}

# Next seq to launch: handler-queued commands first, then queue order.
next_seq() {
  local seq
  while (( ${#PRIO[@]} > 0 )); do
    seq=${PRIO[0]}
    PRIO=("${PRIO[@]:1}")
    [[ -z ${LAUNCHED[$seq]:-} ]] && { NEXT_SEQ=$seq; return 0; }
  done
  while (( Q_NEXT <= Q_N )) && [[ -n ${LAUNCHED[$Q_NEXT]:-} ]]; do
    Q_NEXT=$(( Q_NEXT + 1 ))
  done
  (( Q_NEXT <= Q_N )) || return 1
  NEXT_SEQ=$Q_NEXT
  Q_NEXT=$(( Q_NEXT + 1 ))
  return 0
}

# Filter a command's stdout according to its mode (COUNTFILE, METAFILE: see redact_stream).
output_filter() {
  local mode=$1 cnt=$2 meta=$3 check=0
  case $mode in json|secret|crd|groups|apires|version|promtargets) check=1 ;; esac
  case $mode in
    disc) cat ;;
    promtargets) awk "$JSON_LINES_AWK" | redact_stream "$cnt" "$meta" "$check" ;;
    secret|crd) awk "$GOTPL_FIX_AWK" | redact_stream "$cnt" "$meta" "$check" ;;
    apires) awk "$APIRES_AWK" | redact_stream "$cnt" "$meta" "$check" ;;
    groups) groups_filter | redact_stream "$cnt" "$meta" "$check" ;;
    *) redact_stream "$cnt" "$meta" "$check" ;;
  esac
}

# /apis (APIGroupList) -> JSON array of APIGroup, the core group first.
groups_filter() {
  local arr
  arr=$(awk -v key=groups "$JSONGET_AWK")
  arr=${arr#"${arr%%[![:space:]]*}"}
  arr=${arr%"${arr##*[![:space:]]}"}
  [[ $arr == \[*\] ]] || return 0
  arr=${arr#\[}
  arr=${arr%\]}
  local core='{"name":"","versions":[{"groupVersion":"v1","version":"v1"}],"preferredVersion":{"groupVersion":"v1","version":"v1"}}'
  if [[ $arr =~ ^[[:space:]]*$ ]]; then
    printf '[%s]\n' "$core"
  else
    printf '[%s,%s]\n' "$core" "$arr"
  fi
}

# A JSON document starts with { or [ and ends with } or ].
looks_like_json() {
  local first="" last
  IFS= read -r -n 1 first <"$1" || [[ -n $first ]] || return 1
  last=$(tail -c 16 "$1")
  last=${last%"${last##*[![:space:]]}"}
  last=${last: -1}
  [[ ( $first == "{" && $last == "}" ) || ( $first == "[" && $last == "]" ) ]]
}

# classify RC STDERR: sets STATUS to ok forbidden unauthorized not-served
# not-found timeout unreachable error.
classify() {
  local rc=$1 e=${2,,}
  if [[ $rc == 0 ]]; then STATUS=ok; return; fi
  case $e in
    *forbidden*) STATUS=forbidden ;;
    *unauthorized*|*"must be logged in"*|*"provide credentials"*) STATUS=unauthorized ;;
    *"doesn't have a resource type"*|*"could not find the requested resource"*|*"no matches for kind"*) STATUS=not-served ;;
    *timeout*|*"timed out"*|*"deadline exceeded"*) STATUS=timeout ;;
    *"connection refused"*|*"no such host"*|*"unable to connect"*|*"no route to host"*|*"network is unreachable"*) STATUS=unreachable ;;
    *notfound*|*"not found"*) STATUS=not-found ;;
    *) STATUS=error ;;
  esac
}

# Trimmed, redacted, valid-UTF-8 text of a stderr file.
stderr_text() {
  local f=$1 cnt=$2 size limit=2048 text
  [[ -s $f ]] || return 0
  size=$(file_size "$f")
  text=$(tr -d '\000' <"$f" | redact_stream "$cnt" | head -c "$limit" | awk "$UTF8_CLEAN_AWK")
  if (( size > limit )); then
    text+=$'\n'"[... $(( size - limit )) more bytes]"
  fi
  # trim trailing newlines
  while [[ $text == *$'\n' ]]; do text=${text%$'\n'}; done
  printf '%s' "$text"
}

# jq_str VAR STRING: VAR = STRING as a JSON string; jq_opt: null when empty.
jq_str() { local _jq_e; json_escape_to _jq_e "$2"; printf -v "$1" '"%s"' "$_jq_e"; }
jq_opt() { if [[ -z $2 ]]; then printf -v "$1" 'null'; else jq_str "$1" "$2"; fi; }

# command_entry SEQ STATUS EXIT_CODE STARTED FINISHED OUTPUT BYTES SHA STDERR
command_entry() {
  local seq=$1 status=$2 rc=$3 started=$4 finished=$5 out=$6 bytes=$7 sha=$8 err=$9
  local -a args
  local j_id j_argv="" j_out j_started j_finished j_status j_err j_sha a e
  eval "args=(${Q_ARGS[seq]})"
  kube_argv "${args[@]}"
  for a in "${KARGV[@]}"; do
    json_escape_to e "$a"
    j_argv+=${j_argv:+,}\"$e\"
  done
  jq_str j_id "${Q_ID[seq]}"
  jq_opt j_out "$out"
  jq_opt j_started "$started"
  jq_opt j_finished "$finished"
  jq_str j_status "$status"
  jq_str j_err "$err"
  jq_opt j_sha "$sha"
  printf '{"id":%s,"argv":[%s],"output":%s,"started_at":%s,"finished_at":%s,"exit_code":%s,"status":%s,"optional":%s,"stderr":%s,"bytes":%s,"sha256":%s}' \
    "$j_id" "$j_argv" "$j_out" "$j_started" "$j_finished" "${rc:-null}" "$j_status" "$([[ ${Q_OPT[seq]:-0} == 1 ]] && echo true || echo false)" "$j_err" "${bytes:-null}" "$j_sha"
}

# Runs one queued command (in a background subshell) and records it. The
# output goes straight to its place in the bundle (a command stopped half-way
# has its file removed by stop_job); scratch files stay in $TMPD until the end.
run_job() {
  local seq=$1
  local mode=${Q_MODE[seq]} out=${Q_OUT[seq]}
  local -a args counts=()
  eval "args=(${Q_ARGS[seq]})"
  local dest err="$TMPD/$seq.err" cnt="$TMPD/$seq.cnt" meta="$TMPD/$seq.meta" fifo="$TMPD/$seq.fifo"
  local kpid="" fpid="" rc frc=0 started finished t0 t1 keep=0 bytes="" sha="" errtext="" first="" last=""
  if [[ $mode == disc ]]; then
    dest="$DISCD/$seq.out"
  else
    dest="$BUNDLE_DIR/$out"
    [[ -d ${dest%/*} ]] || mkdir -p "${dest%/*}"
  fi
  trap 'kill ${kpid:+"$kpid"} ${fpid:+"$fpid"} 2>/dev/null; rm -f "$dest"; exit 143' TERM
  utc_now started
  now_ms t0
  if [[ $mode == disc ]]; then
    # Names for discovery stay in the work directory; nothing to filter.
    kube_exec "${args[@]}" >"$dest" 2>"$err" </dev/null &
    kpid=$!
    wait "$kpid"; rc=$?
    kpid=""
  else
    mkfifo "$fifo" || exit 1
    output_filter "$mode" "$cnt" "$meta" <"$fifo" >"$dest" &
    fpid=$!
    if [[ $mode == promtargets ]]; then
      prom_targets_job "$seq" >"$fifo" 2>"$err" </dev/null &
    else
      kube_exec "${args[@]}" >"$fifo" 2>"$err" </dev/null &
    fi
    kpid=$!
    wait "$kpid"; rc=$?
    kpid=""
    wait "$fpid"; frc=$?
    fpid=""
  fi
  if [[ $mode == promtargets && -s $TMPD/$seq.promfail ]]; then
    # The manifest shows the call that failed (the first one that did).
    local failed_target
    read -r failed_target <"$TMPD/$seq.promfail"
    Q_ARGS[seq]=$(printf '%q ' get --raw "$(prom_targets_path "${Q_HARG[seq]}" "${failed_target%%:*}" "${failed_target##*:}")")
  fi
  now_ms t1
  utc_now finished

  # Size (and first/last character) as the redaction filter counted them.
  [[ -s $meta ]] && read -r bytes first last <"$meta"
  if [[ $rc == 0 ]]; then
    keep=1
    case $mode in
      json|secret|crd|groups|apires|version|promtargets)
        local is_json=0
        if [[ -n $first ]]; then
          [[ ( $first == "{" && $last == "}" ) || ( $first == "[" && $last == "]" ) ]] && is_json=1
        elif looks_like_json "$dest"; then
          is_json=1
        fi
        if [[ $frc != 0 || $is_json == 0 ]]; then
          keep=0; rc=1
          printf '\n%s: output is not a JSON document\n' "$COLLECTOR_NAME" >>"$err"
        fi ;;
    esac
  else
    case $mode in
      log) [[ -s $dest ]] && keep=1 ;;
      version) [[ -s $dest ]] && grep -q '"clientVersion"' "$dest" && keep=1 ;;
      apires) [[ -s $dest ]] && grep -q '"groupVersion"' "$dest" && keep=1 ;;
      # some of the namespace's Prometheus Services answered: their objects stay
      promtargets) [[ -s $TMPD/$seq.promitems && $frc == 0 && $first == "{" && $last == "}" ]] && keep=1 ;;
    esac
  fi

  [[ -s $err ]] && errtext=$(stderr_text "$err" "$cnt.err")
  classify "$rc" "$errtext"
  if [[ $keep == 1 && $mode == disc ]]; then
    out=""
  elif [[ $keep == 1 ]]; then
    [[ $bytes =~ ^[0-9]+$ ]] || bytes=$(file_size "$dest")
    sha=$(sha256_of "$dest")
    [[ $rc != 0 ]] && STATUS="partial"
    [[ -s $cnt ]] && mapfile -t counts <"$cnt"
  else
    out=""
    bytes=""
    rm -f "$dest"
  fi
  [[ -s $cnt.err ]] && mapfile -t -O "${#counts[@]}" counts <"$cnt.err"
  (( ${#counts[@]} > 0 )) && printf '%s\n' "${counts[@]}" >"$META/$seq.counts"
  command_entry "$seq" "$STATUS" "$rc" "$started" "$finished" "$out" "$bytes" "$sha" "$errtext" >"$META/$seq.entry"
  printf '%s\t%s\n' "$STATUS" "$(( t1 - t0 ))" >"$TMPD/$seq.done"
  # From here a TERM must not remove the output any more: once .done exists
  # the command counts as finished (stop_job cleans up when it does not).
  trap - TERM
  # The .done file appears complete or not at all; then wake the main loop.
  mv -f "$TMPD/$seq.done" "$META/$seq.done"
  [[ -n ${WAKE_FD:-} ]] && printf '%s\n' "$seq" >&"$WAKE_FD"
  return 0
}

# prom_targets_path NS SERVICE PORT: the Prometheus targets through the service proxy.
prom_targets_path() {
  printf '/api/v1/namespaces/%s/services/%s:%s/proxy/api/v1/targets?state=active' "$1" "$2" "$3"
}

# prom_targets_job SEQ (a job's kubectl part, in its subshell): asks each
# Prometheus Service of the namespace (Q_EXTRA: "svc:port ...", one call
# after the other) for its active targets and prints one List with a
# PrometheusTarget object per answer, the answer unchanged as "response".
# Exit status: that of the first call that failed (its target goes to
# SEQ.promfail); SEQ.promitems holds how many answered, when any did.
prom_targets_job() {
  local seq=$1 ns=${Q_HARG[$1]} target svc port part crc rc=0 i=0 kp="" sep=""
  local -a answered=()
  trap 'kill ${kp:+"$kp"} 2>/dev/null; exit 143' TERM
  for target in ${Q_EXTRA[seq]}; do
    svc=${target%%:*}
    port=${target##*:}
    part="$TMPD/$seq.prom.$i"
    i=$(( i + 1 ))
    kube_exec get --raw "$(prom_targets_path "$ns" "$svc" "$port")" >"$part" </dev/null &
    kp=$!
    wait "$kp"; crc=$?
    kp=""
    if [[ $crc == 0 ]] && ! looks_like_json "$part"; then
      printf '%s: services "%s:%s": the answer is not a JSON document\n' "$COLLECTOR_NAME" "$svc" "$port" >&2
      crc=1
    fi
    if [[ $crc == 0 ]]; then
      answered+=("$svc" "$part")
    elif [[ $rc == 0 ]]; then
      rc=$crc
      printf '%s\n' "$target" >"$TMPD/$seq.promfail"
    fi
  done
  printf '{"apiVersion":"v1","kind":"List","items":['
  for (( i = 0; i < ${#answered[@]}; i += 2 )); do
    printf '%s\n{"apiVersion":"bundle.gitops-master.io/v1","kind":"PrometheusTarget","metadata":{"name":"%s","namespace":"%s"},\n"response":' \
      "$sep" "${answered[i]}" "$ns"
    cat "${answered[i + 1]}"
    printf '}'
    sep=","
  done
  printf '\n]}\n'
  (( ${#answered[@]} > 0 )) && printf '%d\n' "$(( ${#answered[@]} / 2 ))" >"$TMPD/$seq.promitems"
  return "$rc"
}

# Progress line: [n/total] label status 0.4s
progress() {
  local seq=$1 status=$2 ms=$3 label
  [[ $OPT_QUIET == 1 ]] && return 0
  label=${Q_ID[seq]//\// }
  printf '[%d/%d] %s %s %d.%ds\n' "$DONE_N" "$Q_N" "$label" "$status" "$(( ms / 1000 ))" "$(( ms % 1000 / 100 ))" >&2
}

# Bookkeeping once a command has a final status.
account() {
  local seq=$1 status=$2
  DONE_SEQ[$seq]=1
  STATUS_COUNT[$status]=$(( ${STATUS_COUNT[$status]:-0} + 1 ))
  case $status in
    ok|partial) ;;
    *)
      if [[ ${Q_OPT[seq]:-0} == 1 ]]; then
        [[ $status == skipped ]] || OPTIONAL_FAILED+=("${Q_ID[seq]}: $status")
      else
        GAPS+=("${Q_ID[seq]}: $status")
      fi ;;
  esac
}

# Writes the manifest entry of a command that never finished by itself.
record_unfinished() {
  local seq=$1 status=$2 message=$3 started=${4:-} finished=""
  [[ -n $started ]] && utc_now finished
  command_entry "$seq" "$status" "" "$started" "$finished" "" "" "" "$message" >"$META/$seq.entry"
}

reap_finished() {
  local seq status ms
  for seq in ${RUN_PID[@]+"${!RUN_PID[@]}"}; do
    if [[ ! -e $META/$seq.done ]]; then
      kill -0 "${RUN_PID[$seq]}" 2>/dev/null && continue
      wait "${RUN_PID[$seq]}" 2>/dev/null
      if [[ ! -e $META/$seq.done ]]; then
        # The job died without reporting (a bug or a killed shell): record it.
        record_unfinished "$seq" error "collector job ended without a result" "${JOB_STARTED[$seq]:-}"
        printf 'error\t0\n' >"$META/$seq.done"
      fi
    fi
    wait "${RUN_PID[$seq]}" 2>/dev/null
    unset "RUN_PID[$seq]" "RUN_START[$seq]"
    RUNNING=$(( RUNNING - 1 ))
    IFS=$'\t' read -r status ms <"$META/$seq.done"
    DONE_N=$(( DONE_N + 1 ))
    account "$seq" "$status"
    progress "$seq" "$status" "${ms:-0}"
    if [[ -n ${Q_HANDLER[seq]} && -z $STOP && ( $status == ok || $status == partial ) ]]; then
      IN_HANDLER=1
      "${Q_HANDLER[seq]}" "$seq" "${Q_HARG[seq]}"
      IN_HANDLER=0
    fi
  done
}

# Stops a running command: kills its job (which kills kubectl) and records it.
stop_job() {
  local seq=$1 status=$2 message=$3
  kill -TERM "${RUN_PID[$seq]}" 2>/dev/null
  wait "${RUN_PID[$seq]}" 2>/dev/null
  if [[ -e $META/$seq.done ]]; then
    # It finished after all.
    return 1
  fi
  record_unfinished "$seq" "$status" "$message" "${JOB_STARTED[$seq]:-}"
  # A command stopped half-way leaves no output behind.
  [[ -n ${Q_OUT[seq]} ]] && rm -f "$BUNDLE_DIR/${Q_OUT[seq]}"
  unset "RUN_PID[$seq]" "RUN_START[$seq]"
  RUNNING=$(( RUNNING - 1 ))
  DONE_N=$(( DONE_N + 1 ))
  account "$seq" "$status"
  progress "$seq" "$status" 0
  return 0
}

# Ends every running command and skips every queued one.
abort_all() {
  local why=$1 seq
  for seq in ${RUN_PID[@]+"${!RUN_PID[@]}"}; do
    stop_job "$seq" interrupted "interrupted: $why" || true
  done
  reap_finished
  for (( seq = Q_NEXT; seq <= Q_N; seq++ )); do
    [[ -n ${LAUNCHED[$seq]:-} ]] && continue
    LAUNCHED[$seq]=skipped
    record_unfinished "$seq" skipped "skipped: $why"
    account "$seq" skipped
  done
  PRIO=()
  Q_NEXT=$(( Q_N + 1 ))
}

declare -A JOB_STARTED

launch() {
  local seq=$1 ts
  utc_now ts
  JOB_STARTED[$seq]=$ts
  LAUNCHED[$seq]=1
  run_job "$seq" </dev/null 2>>"$TMPD/jobs.stderr" &
  RUN_PID[$seq]=$!
  RUN_START[$seq]=$SECONDS
  RUNNING=$(( RUNNING + 1 ))
}

# Waits until a job reports that it finished (a line on the wake FIFO), a
# signal arrives (on_signal writes to the FIFO too) or a second passes (for the
# deadline and the per-command limit). Without the FIFO: a short sleep.
wait_event() {
  local _we
  if [[ -n ${WAKE_FD:-} ]]; then
    read -r -t 1 -u "$WAKE_FD" _we 2>/dev/null
  else
    sleep 0.1
  fi
  return 0
}

declare -A DONE_SEQ
BARRIER=()  # with seqs in it, run_pool returns as soon as these are done

barrier_done() {
  local seq
  for seq in "${BARRIER[@]}"; do
    [[ -n ${DONE_SEQ[$seq]:-} ]] || return 1
  done
  return 0
}

# Runs queued commands, at most OPT_PARALLEL at a time, until the queue is
# empty (or the BARRIER commands are done: the rest go on running), the
# deadline passes or a signal arrives.
run_pool() {
  local seq
  while :; do
    reap_finished
    if [[ -n $STOP ]]; then
      abort_all "$STOP"
      return
    fi
    if (( SECONDS >= DEADLINE_S )); then
      DEADLINE_HIT=1
      abort_all "deadline reached"
      return
    fi
    for seq in ${RUN_START[@]+"${!RUN_START[@]}"}; do
      if (( SECONDS - RUN_START[$seq] > JOB_LIMIT_S )); then
        stop_job "$seq" timeout "killed: no answer within ${JOB_LIMIT_S}s" || true
      fi
    done
    if (( ${#BARRIER[@]} > 0 )) && barrier_done; then
      return
    fi
    while (( RUNNING < OPT_PARALLEL )) && next_seq; do
      launch "$NEXT_SEQ"
    done
    # Nothing running after the launch loop: the queue is empty.
    if (( RUNNING == 0 )); then
      return
    fi
    wait_event
  done
}

# ---------------------------------------------------------------------------
# Configuration: config file, environment, flags, discovery
# ---------------------------------------------------------------------------

declare -A CFG_VALUE CFG_SOURCE

set_cfg() {  # set_cfg KEY VALUE SOURCE
  CFG_VALUE[$1]=$2
  CFG_SOURCE[$1]=$3
}

cfg() { printf '%s' "${CFG_VALUE[$1]:-}"; }

# Space separated words of a (comma separated) config value.
cfg_words() { uniq_words "${CFG_VALUE[$1]:-}"; }

load_config_file() {
  local file=$1 key val
  [[ -r $file ]] || die "cannot read config file $file"
  while IFS=$'\t' read -r key val; do
    if [[ $key == !* ]]; then
      log "$COLLECTOR_NAME: $file line ${key#!}: not a 'key: value' line, ignored"
      continue
    fi
    if in_list "$key" "${CONFIG_KEYS[*]}"; then
      [[ -n $val ]] && set_cfg "$key" "$val" config-file
    else
      log "$COLLECTOR_NAME: $file: unknown key '$key' ignored"
    fi
  done < <(awk "$CONFIG_AWK" "$file")
}

load_env() {
  local key var
  for key in "${CONFIG_KEYS[@]}"; do
    var="GITOPS_${key^^}"
    if [[ -n ${!var:-} ]]; then
      set_cfg "$key" "${!var}" env
    fi
  done
}

usage() {
  cat <<EOF
Usage: $COLLECTOR_NAME [options]

Collects a read-only, redacted snapshot of a Kargo + Argo CD pipeline into
gitops-bundle-<UTC time>.tar.gz, for offline analysis with gitops-master.

Environment (flags override GITOPS_<KEY> variables, which override the config
file; what none of them sets is discovered from the cluster):
  --config FILE                   settings file (default: ./.gitops-config.yaml)
  --ssh-command CMD               prefix that reaches kubectl, e.g. 'ssh bastion --'
                                  (use key-based, non-interactive ssh: calls run in parallel)
  --kargo-namespace NS[,NS]       Kargo project namespace(s)
  --kargo-controller-namespace NS where the Kargo controller runs
  --argocd-namespace NS[,NS]      namespace(s) of the Argo CD Application objects
  --argocd-controller-namespace NS where the Argo CD controllers run
  --monitoring-namespace NS       monitoring namespace
  --app-namespace NS[,NS]         application workload namespace(s)
  --domain DOMAIN                 cluster domain
  --kargo-project NAME[,NAME]     Kargo project name(s)
  --warehouse-name NAME[,NAME]    Kargo warehouse name(s)
  --context NAME                  kubeconfig context (KUBECONFIG is honoured)
  --kubeconfig FILE               kubeconfig file

Collection:
  --since DURATION                log window (default 24h)
  --limit-bytes SIZE              log bytes per container (default 20Mi)
  --max-job-logs N                newest verification Job pods per namespace (default 20)
  --max-app-namespaces N          cap on discovered app namespaces (default 20)
  --parallel N                    concurrent kubectl calls (default 8)
  --request-timeout DURATION      per kubectl call (default 20s)
  --deadline DURATION             whole run (default 300s); then the bundle is finalized
  -o, --output FILE|DIR           bundle path (default ./gitops-bundle-<UTC yyyymmddThhmmssZ>.tar.gz;
                                  a directory gets that name inside it)
  --no-redact                     keep data as collected (internal use; recorded in the manifest)
  --dry-run                       print the kubectl commands it would run; touches nothing
  -q, --quiet                     no per-command progress
  -h, --help                      this help
  --version                       print the version

Only the kubectl verbs get, logs, version, api-resources, api-versions and
auth can-i are used; get --raw reads /apis and, where a Prometheus Service
runs, its /api/v1/targets through the service proxy. Secret values are never
collected.

Examples:
  $COLLECTOR_NAME
  $COLLECTOR_NAME --kargo-namespace kargo-demo --argocd-namespace argocd
  $COLLECTOR_NAME --ssh-command 'ssh -o BatchMode=yes bastion.example.com --' -o /tmp/bundle.tar.gz
  $COLLECTOR_NAME --context prod --since 6h --limit-bytes 5Mi --deadline 10m
  $COLLECTOR_NAME --config ops/.gitops-config.yaml --dry-run
  GITOPS_KARGO_NAMESPACE=kargo-demo $COLLECTOR_NAME --parallel 4

Then: gitops-master diagnose gitops-bundle-<time>.tar.gz
EOF
}

OPT_CONFIG=""
OPT_CONTEXT=""
OPT_KUBECONFIG=""
OPT_SINCE="24h"
OPT_LIMIT_BYTES=$(( 20 * 1024 * 1024 ))
OPT_MAX_JOB_LOGS=20
OPT_MAX_APP_NS=20
OPT_PARALLEL=8
OPT_REQUEST_TIMEOUT=20
OPT_DEADLINE=300
OPT_OUTPUT=""
OPT_REDACT=1
OPT_DRY_RUN=0
OPT_QUIET=0
SSH_CMD=""
declare -A FLAG_VALUE

parse_args() {
  local opt val key
  while (( $# > 0 )); do
    opt=$1
    val=""
    if [[ $opt == --*=* ]]; then
      val=${opt#*=}
      opt=${opt%%=*}
      set -- "$opt" "$val" "${@:2}"
    fi
    case $opt in
      -h|--help) usage; exit 0 ;;
      --version) printf '%s %s\n' "$COLLECTOR_NAME" "$COLLECTOR_VERSION"; exit 0 ;;
      --dry-run) OPT_DRY_RUN=1; shift; continue ;;
      --no-redact) OPT_REDACT=0; shift; continue ;;
      -q|--quiet) OPT_QUIET=1; shift; continue ;;
    esac
    case $opt in
      --config|--context|--kubeconfig|--since|--limit-bytes|--max-job-logs|--max-app-namespaces|--parallel|\
      --request-timeout|--deadline|-o|--output|--ssh-command|--kargo-namespace|--kargo-controller-namespace|\
      --argocd-namespace|--argocd-controller-namespace|--monitoring-namespace|--app-namespace|--domain|\
      --kargo-project|--warehouse-name) ;;
      *) die "unknown option $opt (see --help)" ;;
    esac
    (( $# >= 2 )) || die "option $opt needs a value (see --help)"
    val=$2
    case $opt in
      --config) OPT_CONFIG=$val ;;
      --context) OPT_CONTEXT=$val ;;
      --kubeconfig) OPT_KUBECONFIG=$val ;;
      --since) [[ $val =~ ^([0-9]+[hms])+$ ]] || die "--since: expected a duration like 24h or 90m"; OPT_SINCE=$val ;;
      --limit-bytes) OPT_LIMIT_BYTES=$(to_bytes "$val") || die "--limit-bytes: expected a size like 20Mi or 1048576" ;;
      --max-job-logs) [[ $val =~ ^[0-9]+$ ]] || die "--max-job-logs: expected a number"; OPT_MAX_JOB_LOGS=$val ;;
      --max-app-namespaces) [[ $val =~ ^[0-9]+$ ]] || die "--max-app-namespaces: expected a number"; OPT_MAX_APP_NS=$val ;;
      --parallel)
        if ! [[ $val =~ ^[0-9]+$ ]] || (( val < 1 || val > 64 )); then die "--parallel: expected 1..64"; fi
        OPT_PARALLEL=$val ;;
      --request-timeout)
        OPT_REQUEST_TIMEOUT=$(to_seconds "$val") || die "--request-timeout: expected a duration like 20s"
        (( OPT_REQUEST_TIMEOUT > 0 )) || die "--request-timeout: must be more than 0" ;;
      --deadline)
        OPT_DEADLINE=$(to_seconds "$val") || die "--deadline: expected a duration like 300s or 5m"
        (( OPT_DEADLINE > 0 )) || die "--deadline: must be more than 0" ;;
      -o|--output) OPT_OUTPUT=$val ;;
      --ssh-command|--kargo-namespace|--kargo-controller-namespace|--argocd-namespace|--argocd-controller-namespace|--monitoring-namespace|--app-namespace|--domain|--kargo-project|--warehouse-name)
        key=${opt#--}
        key=${key//-/_}
        FLAG_VALUE[$key]=$val ;;
      *) die "unknown option $opt (see --help)" ;;
    esac
    shift 2
  done
}

resolve_static_config() {
  local key file=""
  if [[ -n $OPT_CONFIG ]]; then
    file=$OPT_CONFIG
    [[ -f $file ]] || die "config file $file not found"
  elif [[ -f .gitops-config.yaml ]]; then
    file=.gitops-config.yaml
  fi
  CONFIG_FILE_USED=$file
  [[ -n $file ]] && load_config_file "$file"
  load_env
  for key in ${FLAG_VALUE[@]+"${!FLAG_VALUE[@]}"}; do
    set_cfg "$key" "${FLAG_VALUE[$key]}" flag
  done
  SSH_CMD=$(cfg ssh_command)
}

# ---------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------

DISC_SEQ_VERSION=""
declare -A DISC_SEQ

# Discovery queries only choose what to collect: their failure is recorded
# (optional), and what they could not find shows in the config's sources; the
# per-namespace commands that follow record the gaps in the data itself.
disc_enqueue() {  # disc_enqueue NAME KUBECTL_ARG...
  local name=$1 id="discover-$1"
  shift
  (( DISC_ROUND > 1 )) && id+="-$DISC_ROUND"
  ENQ_OPTIONAL=1
  enqueue "$id" disc "" "" "" -- "$@"
  ENQ_OPTIONAL=0
  [[ $OPT_DRY_RUN == 1 ]] || DISC_SEQ[$name]=$Q_N
}

# Did discovery query NAME run and succeed (its output may be empty)?
disc_ok() {
  local seq=${DISC_SEQ[$1]:-}
  [[ -n $seq && -f $DISCD/$seq.out ]]
}

# Output of discovery query NAME ("" when it failed or did not run).
disc_output() {
  local seq=${DISC_SEQ[$1]:-}
  [[ -n $seq && -f $DISCD/$seq.out ]] && cat "$DISCD/$seq.out"
}

missing() { [[ -z ${CFG_VALUE[$1]:-} ]]; }

DISC_ROUND=0

plan_discovery() {
  DISC_SEQ=()
  DISC_ROUND=$(( DISC_ROUND + 1 ))
  if [[ -z $DISC_SEQ_VERSION ]]; then
    enqueue version version cluster-resources/version.json "" "" -- version -o json
    DISC_SEQ_VERSION=$Q_N
  elif [[ $OPT_DRY_RUN != 1 && ! -f $BUNDLE_DIR/cluster-resources/version.json ]]; then
    # Another way to reach the cluster was given: ask for the versions again.
    enqueue "version-$DISC_ROUND" version cluster-resources/version.json "" "" -- version -o json
    DISC_SEQ_VERSION=$Q_N
  fi
  if [[ $OPT_DRY_RUN == 1 || ! -f $BUNDLE_DIR/cluster-resources/groups.json ]]; then
    # The API groups and their preferred versions (one GET, no discovery):
    # phase 2 names resources with their version, which spares every kubectl
    # call a rediscovery (kubectl reads "stages.kargo.akuity.io" as version
    # "kargo" of group "akuity.io" first and, when that fails, invalidates its
    # discovery cache and fetches every group again).
    if (( DISC_ROUND > 1 )); then
      enqueue "api-groups-$DISC_ROUND" groups cluster-resources/groups.json on_api_groups "" -- get --raw /apis
    else
      enqueue api-groups groups cluster-resources/groups.json on_api_groups "" -- get --raw /apis
    fi
  fi
  disc_enqueue namespaces get namespaces -o 'jsonpath={range .items[*]}{.metadata.name}{"\t"}{.metadata.labels.kargo\.akuity\.io/project}{"\n"}{end}'
  if missing kargo_namespace; then
    # Pods of Jobs (verification runs) everywhere, oldest first: whose logs to take
    # in the Kargo namespaces found, without a second listing.
    disc_enqueue job-pods get pods -A -l job-name --sort-by=.metadata.creationTimestamp -o "jsonpath=$POD_TARGETS_JSONPATH"
    disc_enqueue projects get projects.kargo.akuity.io -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}'
    disc_enqueue stages get stages.kargo.akuity.io -A -o 'jsonpath={range .items[*]}{.metadata.namespace}{"\n"}{end}'
  fi
  if missing argocd_namespace || missing app_namespace; then
    disc_enqueue applications get applications.argoproj.io -A -o 'jsonpath={range .items[*]}{.metadata.namespace}{"\t"}{.spec.destination.namespace}{"\t"}{.metadata.annotations.kargo\.akuity\.io/authorized-stage}{"\n"}{end}'
  fi
  if missing kargo_controller_namespace; then
    # Every Kargo pod: the controller's namespace, and already whose logs to take there.
    disc_enqueue kargo-pods get pods -A -l app.kubernetes.io/name=kargo -o "jsonpath=$POD_TARGETS_JSONPATH"
  fi
  if missing argocd_controller_namespace; then
    disc_enqueue argocd-pods get pods -A -l "app.kubernetes.io/name in ($ARGOCD_LOG_COMPONENTS)" -o "jsonpath=$POD_TARGETS_JSONPATH"
  fi
  disc_enqueue ingresses get ingresses.networking.k8s.io -A -o 'jsonpath={range .items[*]}{.metadata.namespace}{"\t"}{range .spec.rules[*]}{.host}{" "}{end}{"\n"}{end}'
  if missing warehouse_name; then
    disc_enqueue warehouses get warehouses.kargo.akuity.io -A -o 'jsonpath={range .items[*]}{.metadata.namespace}{"\t"}{.metadata.name}{"\n"}{end}'
  fi
  # Prometheus Services, whose scrape targets verification Level 2 reads: one
  # query per label that marks them (a selector cannot say "or").
  disc_enqueue prometheus-operated get services -A -l operated-prometheus=true -o "jsonpath=$PROM_SERVICES_JSONPATH"
  disc_enqueue prometheus-name get services -A -l app.kubernetes.io/name=prometheus -o "jsonpath=$PROM_SERVICES_JSONPATH"
  disc_enqueue prometheus-app get services -A -l 'app in (prometheus,kube-prometheus-stack-prometheus)' -o "jsonpath=$PROM_SERVICES_JSONPATH"
}

PROM_DISCOVERY="prometheus-operated prometheus-name prometheus-app"

# Did every cluster-wide Prometheus Service query answer?
prom_discovered() {
  local name
  for name in $PROM_DISCOVERY; do disc_ok "$name" || return 1; done
}

# prom_services_found [" NS NS "]: "namespace<TAB>service<TAB>port" of the
# Prometheus Services the cluster-wide queries found (in these namespaces).
prom_services_found() {
  local name
  for name in $PROM_DISCOVERY; do disc_output "$name"; done | awk -v nss="${1:-}" "$PROM_SERVICES_AWK" | sort
}

# Namespaces of a Prometheus Service that are named like a monitoring namespace.
prom_monitoring_namespaces() {
  prom_discovered || return 0
  prom_services_found | awk -F'\t' '$1 ~ /monitor|prometheus/ {print $1}' | sort -u
}

# Words of a list that are valid Kubernetes names (DNS-1123), comma joined.
# Whatever else an API server or a kubectl wrapper prints is dropped.
valid_names() {
  local w out=""
  local -a words=()
  IFS=$' \t\n,' read -r -d '' -a words <<<"$1"
  for w in ${words[@]+"${words[@]}"}; do
    [[ $w =~ ^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$ ]] && out+=${out:+,}$w
  done
  printf '%s' "$out"
}

set_discovered() {  # set_discovered KEY VALUE: only for keys still missing
  local value
  value=$(valid_names "$2")
  if missing "$1" && [[ -n $value ]]; then
    set_cfg "$1" "$value" discovered
  fi
}

resolve_discovery() {
  local all_ns project_ns projects stage_ns ns v apps_ns dest_ns kargo_dest hosts host domain="" wh
  all_ns=$(uniq_words "$(valid_names "$(disc_output namespaces | awk -F'\t' '{print $1}')")")
  project_ns=$(disc_output namespaces | awk -F'\t' '$2 == "true" {print $1}')
  projects=$(disc_output projects)
  stage_ns=$(disc_output stages)
  set_discovered kargo_namespace "$(uniq_words "$projects $stage_ns $project_ns" | tr ' ' ',')"
  if missing kargo_project && [[ -n $(cfg kargo_namespace) ]]; then
    # A Kargo project's namespace carries the project's name.
    set_discovered kargo_project "$(cfg_words kargo_namespace | tr ' ' ',')"
  fi

  apps_ns=$(disc_output applications | awk -F'\t' '$1 != "" {print $1}')
  set_discovered argocd_namespace "$(uniq_words "$apps_ns" | tr ' ' ',')"
  if missing app_namespace; then
    # Prefer the destinations of the Applications a Kargo Stage may update.
    kargo_dest=$(disc_output applications | awk -F'\t' '$3 != "" && $2 != "" {print $2}')
    dest_ns=$(disc_output applications | awk -F'\t' '$2 != "" {print $2}')
    [[ -n $kargo_dest ]] && dest_ns=$kargo_dest
    dest_ns=$(uniq_words "$dest_ns")
    v=""
    local count=0
    for ns in $dest_ns; do
      (( count >= OPT_MAX_APP_NS )) && { log "$COLLECTOR_NAME: more than $OPT_MAX_APP_NS app namespaces; collecting the first $OPT_MAX_APP_NS (see --max-app-namespaces)"; break; }
      v+=${v:+,}$ns
      count=$(( count + 1 ))
    done
    set_discovered app_namespace "$v"
  fi

  set_discovered kargo_controller_namespace "$(uniq_words "$(disc_output kargo-pods | awk -F'\t' '$2 == "kargo/controller" {print $1}')" | tr ' ' ',')"
  set_discovered argocd_controller_namespace "$(uniq_words "$(disc_output argocd-pods | awk -F'\t' '$2 ~ /^argocd-application-controller\// {print $1}')" | tr ' ' ',')"
  if missing kargo_controller_namespace && { [[ -z $all_ns ]] || in_list kargo "$all_ns"; }; then
    set_cfg kargo_controller_namespace kargo default
  fi
  if missing argocd_controller_namespace && { [[ -z $all_ns ]] || in_list argocd "$all_ns"; }; then
    set_cfg argocd_controller_namespace argocd default
  fi
  if missing argocd_namespace && ! missing argocd_controller_namespace && [[ ${CFG_SOURCE[argocd_controller_namespace]} != default ]]; then
    set_cfg argocd_namespace "$(cfg argocd_controller_namespace)" discovered
  fi
  if missing monitoring_namespace && in_list monitoring "$all_ns"; then
    set_cfg monitoring_namespace monitoring discovered
  fi
  if missing monitoring_namespace; then
    # Else where a Prometheus Service runs in a namespace named like one.
    set_discovered monitoring_namespace "$(prom_monitoring_namespaces | head -n 1)"
  fi

  INGRESS_NAMESPACES=$(uniq_words "$(valid_names "$(disc_output ingresses | awk -F'\t' '{print $1}')")")
  if missing domain; then
    hosts=$(disc_output ingresses | awk -F'\t' '{print $2}' | tr ' ' '\n' | awk 'NF && $0 ~ /[.]/ && $0 !~ /^[*]/')
    # Prefer the host of the Kargo or Argo CD UI (kargo.example.com -> example.com).
    for host in $hosts; do
      case ${host%%.*} in
        kargo|argocd|argo-cd|argo) domain=${host#*.}; break ;;
      esac
    done
    if [[ -z $domain ]]; then
      host=$(printf '%s\n' "$hosts" | head -n 1)
      [[ $host == *.*.* ]] && domain=${host#*.}
    fi
    set_discovered domain "$domain"
  fi
  if missing warehouse_name; then
    wh=$(disc_output warehouses | awk -F'\t' -v nss=" $(cfg_words kargo_namespace) " 'index(nss, " " $1 " ") && $2 != "" {print $2}')
    set_discovered warehouse_name "$(uniq_words "$wh" | tr ' ' ',')"
  fi
  for v in "${CONFIG_KEYS[@]}"; do
    if [[ -z ${CFG_SOURCE[$v]:-} ]]; then
      set_cfg "$v" "" default
    fi
  done
}

# The version command's server part, or its error.
cluster_reachable() {
  [[ -n $DISC_SEQ_VERSION && -f $BUNDLE_DIR/cluster-resources/version.json ]] &&
    grep -q '"serverVersion"' "$BUNDLE_DIR/cluster-resources/version.json"
}

PROMPT_TEMPLATE="I need your cluster details to proceed:
- How do I reach kubectl? (direct / SSH command / proxy)
- Kargo project namespace?
- ArgoCD apps namespace?
- Monitoring namespace? (if applicable)
- Application namespace?
- Cluster domain?"

# Asks on the terminal for what discovery could not find.
ask_user() {
  local answer
  log "$PROMPT_TEMPLATE"
  log ""
  read -r -p "How do I reach kubectl? (direct / SSH command / proxy) [direct]: " answer || return 1
  case ${answer,,} in
    ""|direct) ;;
    *) set_cfg ssh_command "$answer" prompt; SSH_CMD=$answer ;;
  esac
  read -r -p "Kargo project namespace? [none]: " answer || return 1
  [[ -n $answer ]] && set_cfg kargo_namespace "$answer" prompt
  read -r -p "ArgoCD apps namespace? [none]: " answer || return 1
  [[ -n $answer ]] && set_cfg argocd_namespace "$answer" prompt
  read -r -p "Monitoring namespace? (if applicable) [none]: " answer || return 1
  [[ -n $answer ]] && set_cfg monitoring_namespace "$answer" prompt
  read -r -p "Application namespace? [none]: " answer || return 1
  [[ -n $answer ]] && set_cfg app_namespace "$answer" prompt
  read -r -p "Cluster domain? [none]: " answer || return 1
  [[ -n $answer ]] && set_cfg domain "$answer" prompt
  return 0
}

missing_namespaces_message() {
  local reach=""
  if ! cluster_reachable; then
    reach="kubectl could not reach the cluster from here; pass the way to reach it:
  --ssh-command 'ssh bastion --'    (every kubectl call runs through this prefix)
  --context NAME / --kubeconfig FILE
and "
  fi
  cat >&2 <<EOF
$COLLECTOR_NAME: found no Kargo project namespace and no Argo CD namespace.
${reach}pass at least one of:
  --kargo-namespace NS     Kargo project namespace (Stages, Promotions, Freight)
  --argocd-namespace NS    namespace of the Argo CD Application objects
(or set them in .gitops-config.yaml, or GITOPS_KARGO_NAMESPACE / GITOPS_ARGOCD_NAMESPACE)
EOF
}

# ---------------------------------------------------------------------------
# What to collect
# ---------------------------------------------------------------------------

# Every namespace whose workloads, events, config and logs are collected.
collect_namespaces() {
  uniq_words "$(cfg kargo_namespace) $(cfg kargo_controller_namespace) $(cfg argocd_namespace) $(cfg argocd_controller_namespace) $(cfg app_namespace)"
}

declare -A GROUP_VERSION

# Preferred version of every API group, from groups.json (collected in phase 1).
load_group_versions() {
  local f="$BUNDLE_DIR/cluster-resources/groups.json" gv
  GROUP_VERSION=()
  [[ -f $f ]] || return 0
  while IFS= read -r gv; do
    gv=${gv%\"}
    gv=${gv##*\"}
    [[ $gv == */* ]] || continue
    GROUP_VERSION[${gv%/*}]=${gv##*/}
  done < <(grep -o '"preferredVersion"[[:space:]]*:[[:space:]]*{[[:space:]]*"groupVersion"[[:space:]]*:[[:space:]]*"[^"]*"' "$f")
}

# res_arg PLURAL.GROUP: sets RA to the argument kubectl maps without a
# rediscovery, PLURAL.VERSION.GROUP, when the group's version is known; else
# to PLURAL.GROUP as given.
res_arg() {
  local r=$1 group
  RA=$r
  if [[ $r == *.* ]]; then
    group=${r#*.}
    [[ -n ${GROUP_VERSION[$group]:-} ]] && RA="${r%%.*}.${GROUP_VERSION[$group]}.$group"
  fi
  return 0
}

cr_out() {  # cr_out PLURAL.GROUP [NS]
  if [[ -n ${2:-} ]]; then
    printf 'cluster-resources/custom-resources/%s/%s.json' "$1" "$2"
  else
    printf 'cluster-resources/custom-resources/%s.json' "$1"
  fi
}

get_json() {  # get_json RESOURCE NS OUTPUT
  res_arg "$1"
  if [[ -n $2 ]]; then
    enqueue "$1/$2" json "$3" "" "" -- get "$RA" -n "$2" -o json
  else
    enqueue "$1" json "$3" "" "" -- get "$RA" -o json
  fi
}

plan_collection() {
  local ns r plural kargo_ns argo_ns all_ns
  kargo_ns=$(cfg_words kargo_namespace)
  argo_ns=$(uniq_words "$(cfg argocd_namespace) $(cfg argocd_controller_namespace)")
  all_ns=$(collect_namespaces)
  local kc_ns ac_ns
  kc_ns=$(cfg_words kargo_controller_namespace)
  ac_ns=$(cfg_words argocd_controller_namespace)

  # Logs first: they are the slowest part. When discovery listed the Kargo and
  # Argo CD pods, their logs are queued right away; otherwise (namespaces given
  # by flag or config, or the cluster-wide listing failed) a pod listing per
  # namespace picks them.
  for ns in $kc_ns; do
    if disc_ok kargo-pods; then
      plan_log_lines "$ns" "$(disc_output kargo-pods | awk -F'\t' -v ns="$ns" '$1 == ns {print $3 "\t" $4}')"
    else
      enqueue "log-targets/$ns/kargo" disc "" on_log_targets "$ns" -- \
        get pods -n "$ns" -l app.kubernetes.io/name=kargo -o "jsonpath=$POD_CONTAINERS_JSONPATH"
    fi
  done
  for ns in $ac_ns; do
    if disc_ok argocd-pods; then
      plan_log_lines "$ns" "$(disc_output argocd-pods | awk -F'\t' -v ns="$ns" '$1 == ns {print $3 "\t" $4}')"
    else
      enqueue "log-targets/$ns/argocd" disc "" on_log_targets "$ns" -- \
        get pods -n "$ns" -l "app.kubernetes.io/name in ($ARGOCD_LOG_COMPONENTS)" -o "jsonpath=$POD_CONTAINERS_JSONPATH"
    fi
  done
  for ns in $kargo_ns; do
    if disc_ok job-pods; then
      plan_log_lines "$ns" "$(disc_output job-pods | awk -F'\t' -v ns="$ns" '$1 == ns {print $3 "\t" $4}' | tail -n "$OPT_MAX_JOB_LOGS")"
    else
      enqueue "log-targets/$ns/verification" disc "" on_log_targets "$ns" -- \
        get pods -n "$ns" -l job-name --sort-by=.metadata.creationTimestamp -o "jsonpath=$POD_CONTAINERS_JSONPATH"
    fi
  done

  # What needs no namespace (queued already when the API groups arrived).
  plan_cluster_wide

  # Kargo and Argo CD objects.
  for ns in $kargo_ns; do
    for r in stages.kargo.akuity.io promotions.kargo.akuity.io freights.kargo.akuity.io warehouses.kargo.akuity.io \
             promotiontasks.kargo.akuity.io projectconfigs.kargo.akuity.io analysisruns.argoproj.io analysistemplates.argoproj.io; do
      get_json "$r" "$ns" "$(cr_out "$r" "$ns")"
    done
  done
  for ns in $argo_ns; do
    for r in applications.argoproj.io applicationsets.argoproj.io appprojects.argoproj.io; do
      get_json "$r" "$ns" "$(cr_out "$r" "$ns")"
    done
  done

  # D1 views: the tables a person reads.
  local stages promotions freights analysisruns applications
  res_arg stages.kargo.akuity.io; stages=$RA
  res_arg promotions.kargo.akuity.io; promotions=$RA
  res_arg freights.kargo.akuity.io; freights=$RA
  res_arg analysisruns.argoproj.io; analysisruns=$RA
  res_arg applications.argoproj.io; applications=$RA
  for ns in $kargo_ns; do
    enqueue "stages-wide-$ns" text "views/stages-wide-$ns.txt" "" "" -- get "$stages" -n "$ns" -o wide
    enqueue "promotions-$ns" text "views/promotions-$ns.txt" "" "" -- get "$promotions" -n "$ns" --sort-by=.metadata.creationTimestamp -o wide
    enqueue "freight-$ns" text "views/freight-$ns.txt" "" "" -- get "$freights" -n "$ns" --sort-by=.metadata.creationTimestamp
    enqueue "analysisruns-$ns" text "views/analysisruns-$ns.txt" "" "" -- get "$analysisruns" -n "$ns" --sort-by=.metadata.creationTimestamp
    enqueue "events-warnings-$ns" text "views/events-warnings-$ns.txt" "" "" -- get events -n "$ns" --sort-by=.lastTimestamp --field-selector=type!=Normal
  done
  for ns in $(cfg_words argocd_namespace); do
    enqueue "applications-$ns" text "views/applications-$ns.txt" "" "" -- get "$applications" -n "$ns" -o wide
  done
  for ns in $kc_ns; do
    enqueue "kargo-pods-$ns" text "views/kargo-pods-$ns.txt" "" "" -- get pods -n "$ns" -l app.kubernetes.io/name=kargo -o wide
    enqueue "events-warnings-$ns" text "views/events-warnings-$ns.txt" "" "" -- get events -n "$ns" --sort-by=.lastTimestamp --field-selector=type!=Normal
  done
  for ns in $ac_ns; do
    enqueue "argocd-pods-$ns" text "views/argocd-pods-$ns.txt" "" "" -- get pods -n "$ns" -o wide
    enqueue "events-warnings-$ns" text "views/events-warnings-$ns.txt" "" "" -- get events -n "$ns" --sort-by=.lastTimestamp --field-selector=type!=Normal
  done

  # Workloads, events, RBAC and config of every namespace of interest.
  for ns in $all_ns; do
    for r in pods events deployments.apps statefulsets.apps replicasets.apps daemonsets.apps jobs.batch cronjobs.batch \
             services endpoints serviceaccounts configmaps roles.rbac.authorization.k8s.io \
             rolebindings.rbac.authorization.k8s.io ingresses.networking.k8s.io; do
      plural=${r%%.*}
      get_json "$r" "$ns" "cluster-resources/$plural/$ns.json"
    done
    enqueue "secrets/$ns" secret "cluster-resources/secrets/$ns.json" "" "" -- get secrets -n "$ns" -o "go-template=$SECRET_TPL"
    # What the collecting identity may read here: a SelfSubjectRulesReview, which
    # kubectl creates with a POST (read-only on the server, but a read-only
    # replay such as `gitops-master serve` refuses it). Optional: no gap.
    ENQ_OPTIONAL=1
    enqueue "can-i-$ns" text "views/can-i-$ns.txt" "" "" -- auth can-i --list -n "$ns"
    ENQ_OPTIONAL=0
  done
  for ns in ${INGRESS_NAMESPACES:-}; do
    in_list "$ns" "$all_ns" || get_json ingresses.networking.k8s.io "$ns" "cluster-resources/ingresses/$ns.json"
  done
  # TLS certificates for verification Level 3, where cert-manager is installed.
  if [[ -n ${GROUP_VERSION[cert-manager.io]:-} ]]; then
    for ns in $(uniq_words "$all_ns ${INGRESS_NAMESPACES:-}"); do
      get_json certificates.cert-manager.io "$ns" "$(cr_out certificates.cert-manager.io "$ns")"
    done
  fi
  plan_prometheus "$all_ns"
}

# Prometheus scrape targets for verification Level 2, where a Prometheus
# Service runs: in the namespaces collected, the monitoring namespace and the
# monitoring-like namespaces where discovery found one. The Services come from
# the cluster-wide discovery queries, or, when one of them failed, from a
# listing per namespace (optional, like every discovery query). No Service,
# no command: a cluster without Prometheus has no gap.
plan_prometheus() {
  local nss ns
  [[ $OPT_DRY_RUN == 1 ]] && return 0
  nss=$(uniq_words "$1 $(cfg monitoring_namespace) $(prom_monitoring_namespaces)")
  [[ -n $nss ]] || return 0
  if prom_discovered; then
    plan_prometheus_lines "$(prom_services_found " $nss ")"
    return 0
  fi
  ENQ_OPTIONAL=1
  for ns in $nss; do
    enqueue "discover-prometheus/$ns" disc "" on_prometheus_services "$ns" -- \
      get services -n "$ns" -o "jsonpath=$PROM_SERVICES_JSONPATH"
  done
  ENQ_OPTIONAL=0
}

# Handler: a namespace's Services arrived; queue its Prometheus targets.
on_prometheus_services() {
  local seq=$1 ns=$2 file="$DISCD/$1.out"
  [[ -f $file ]] || return 0
  plan_prometheus_lines "$(awk -v nss=" $ns " "$PROM_SERVICES_AWK" "$file" | sort)"
}

# plan_prometheus_lines LINES: one command per namespace of the sorted
# "namespace<TAB>service<TAB>port" lines, which asks each of its Services.
plan_prometheus_lines() {
  local ns svc port cur="" targets=""
  while IFS=$'\t' read -r ns svc port; do
    [[ -n $ns && -n $svc && -n $port ]] || continue
    if [[ $ns != "$cur" ]]; then
      [[ -n $cur ]] && plan_prometheus_targets "$cur" "$targets"
      cur=$ns
      targets=""
    fi
    targets+=${targets:+ }$svc:$port
  done <<<"$1"
  [[ -n $cur ]] && plan_prometheus_targets "$cur" "$targets"
  return 0
}

plan_prometheus_targets() {  # plan_prometheus_targets NS "SVC:PORT ..."
  local ns=$1 first=${2%% *}
  ENQ_EXTRA=$2
  enqueue "$PROM_RESOURCE/$ns" promtargets "$(cr_out "$PROM_RESOURCE" "$ns")" "" "$ns" -- \
    get --raw "$(prom_targets_path "$ns" "${first%%:*}" "${first##*:}")"
  ENQ_EXTRA=""
}

# Cluster-scoped objects, unhealthy pods anywhere and API discovery: nothing
# here waits for discovery. Queued as soon as the API groups are known (the
# cluster answers, and the versions are there), so that these run while
# discovery still does; plan_collection queues them otherwise.
plan_cluster_wide() {
  local r
  for r in projects.kargo.akuity.io clusterpromotiontasks.kargo.akuity.io clusteranalysistemplates.argoproj.io; do
    get_json "$r" "" "$(cr_out "$r")"
  done
  # The V2 quick check: pods neither Running nor Succeeded, in any namespace.
  enqueue pods-not-running-wide text views/pods-not-running-wide.txt "" "" -- get pods -A --field-selector=status.phase!=Running,status.phase!=Succeeded -o wide
  enqueue pods-not-running json cluster-resources/pods-not-running.json "" "" -- get pods -A --field-selector=status.phase!=Running,status.phase!=Succeeded -o json
  get_json nodes "" cluster-resources/nodes.json
  get_json namespaces "" cluster-resources/namespaces.json
  get_json clusterroles.rbac.authorization.k8s.io "" cluster-resources/clusterroles.json
  get_json clusterrolebindings.rbac.authorization.k8s.io "" cluster-resources/clusterrolebindings.json
  res_arg customresourcedefinitions.apiextensions.k8s.io
  enqueue customresourcedefinitions crd cluster-resources/customresourcedefinitions.json "" "" -- \
    get "$RA" -o "go-template=$CRD_TPL"
  enqueue api-resources apires cluster-resources/resources.json "" "" -- api-resources -o wide
}

# Handler: the API groups arrived; the cluster answers. Queue what needs no
# discovery behind the discovery queries (not ahead of them).
on_api_groups() {
  load_group_versions
  IN_HANDLER=0
  plan_cluster_wide
  IN_HANDLER=1
}

# Handler: a pod listing finished; queue the logs of its containers.
on_log_targets() {
  local seq=$1 ns=$2 file="$DISCD/$1.out" lines
  [[ -f $file ]] || return 0
  lines=$(awk -F'\t' 'NF >= 1 && $1 != ""' "$file")
  if [[ ${Q_ID[seq]} == */verification ]]; then
    lines=$(printf '%s\n' "$lines" | tail -n "$OPT_MAX_JOB_LOGS")
  fi
  plan_log_lines "$ns" "$lines"
}

# plan_log_lines NS LINES: queue the logs of "pod<TAB>container:restarts ..." lines.
plan_log_lines() {
  local ns=$1 lines=$2 pod rest c name restarts
  while IFS=$'\t' read -r pod rest; do
    [[ -n $pod ]] || continue
    for c in $rest; do
      name=${c%%:*}
      restarts=${c##*:}
      [[ -n $name ]] || continue
      plan_logs "$ns" "$pod" "$name" "$restarts"
    done
  done <<<"$lines"
}

plan_logs() {  # plan_logs NS POD CONTAINER RESTARTS
  local ns=$1 pod=$2 c=$3 restarts=$4 dir
  dir="cluster-resources/pods/logs/$ns/$pod"
  enqueue "logs/$ns/$pod/$c" log "$dir/$c.log" "" "" -- \
    logs -n "$ns" "$pod" -c "$c" --timestamps "--since=$OPT_SINCE" "--limit-bytes=$OPT_LIMIT_BYTES"
  if [[ $restarts =~ ^[0-9]+$ ]] && (( restarts > 0 )); then
    enqueue "logs-previous/$ns/$pod/$c" log "$dir/$c-previous.log" "" "" -- \
      logs -n "$ns" "$pod" -c "$c" --previous --timestamps "--since=$OPT_SINCE" "--limit-bytes=$OPT_LIMIT_BYTES"
  fi
}

# ---------------------------------------------------------------------------
# Dry run
# ---------------------------------------------------------------------------

dry_run() {
  local key ph
  log "# $COLLECTOR_NAME $COLLECTOR_VERSION dry run: the kubectl commands it would run (nothing is executed)"
  for key in "${CONFIG_KEYS[@]}"; do
    log "#   $key = ${CFG_VALUE[$key]:-<to discover>} (${CFG_SOURCE[$key]:-discovery})"
  done
  plan_discovery
  # Placeholders for what discovery would fill in.
  for key in "${CONFIG_KEYS[@]}"; do
    if missing "$key"; then
      ph="<${key//_/-}>"
      case $key in
        ssh_command|monitoring_namespace|domain|warehouse_name) ;;
        *) CFG_VALUE[$key]=$ph ;;
      esac
    fi
  done
  INGRESS_NAMESPACES=""
  plan_collection
  local ns
  for ns in $(cfg_words kargo_controller_namespace) $(cfg_words argocd_controller_namespace) $(cfg_words kargo_namespace); do
    plan_logs "$ns" "<pod>" "<container>" 1
  done
  # Per namespace where discovery finds a Prometheus Service (each of them in turn).
  enqueue "$PROM_RESOURCE/<namespace>" promtargets "" "" "" -- \
    get --raw "$(prom_targets_path "<namespace>" "<prometheus-service>" "<port>")"
}

# ---------------------------------------------------------------------------
# Bundle
# ---------------------------------------------------------------------------

write_config_yaml() {
  local key val src red
  {
    printf '# Resolved environment of this bundle (%s %s); the source of each value is in manifest.json.\n' "$COLLECTOR_NAME" "$COLLECTOR_VERSION"
    for key in "${CONFIG_KEYS[@]}"; do
      val=${CFG_VALUE[$key]:-}
      src=${CFG_SOURCE[$key]:-default}
      red=$(redact_string "$val" "")
      printf '%s: "%s"  # %s\n' "$key" "$(json_escape "$red")" "$src"
    done
  } >"$BUNDLE_DIR/config.yaml"
}

config_json() {
  local key val src out="" red entry w
  local -a words
  for key in "${CONFIG_KEYS[@]}" context kubeconfig; do
    case $key in
      context) val=$OPT_CONTEXT; src=$([[ -n $val ]] && echo flag || echo default) ;;
      kubeconfig)
        if [[ -n $OPT_KUBECONFIG ]]; then val=$OPT_KUBECONFIG; src=flag
        elif [[ -n ${KUBECONFIG:-} ]]; then val=$KUBECONFIG; src="env"
        else val=""; src=default; fi ;;
      *) val=${CFG_VALUE[$key]:-}; src=${CFG_SOURCE[$key]:-default} ;;
    esac
    red=$(redact_string "$val" "$META/config.counts")
    entry="\"value\":$(json_str_or_null "$red"),\"source\":$(json_str "$src")"
    if in_list "$key" "$LIST_KEYS"; then
      words=()
      for w in ${red//,/ }; do words+=("$w"); done
      entry+=",\"values\":$(json_array ${words[@]+"${words[@]}"})"
    fi
    out+=${out:+,$'\n    '}"$(json_str "$key"):{$entry}"
  done
  printf '{\n    %s\n  }' "$out"
}

redaction_json() {
  local rule counts_json="" n
  declare -A total=()
  if [[ $OPT_REDACT == 1 ]]; then
    local r c seq f
    for (( seq = 0; seq <= Q_N; seq++ )); do
      f="$META/$seq.counts"
      (( seq == 0 )) && f="$META/config.counts"
      [[ -f $f ]] || continue
      while read -r r c; do
        [[ -n $r && $c =~ ^[0-9]+$ ]] || continue
        total[$r]=$(( ${total[$r]:-0} + c ))
      done <"$f"
    done
  fi
  for rule in "${REDACTION_RULES[@]}"; do
    n=${total[$rule]:-0}
    counts_json+=${counts_json:+,}"$(json_str "$rule"):$n"
  done
  printf '{"enabled":%s,"replacement":%s,"rules":%s,"counts":{%s}}' \
    "$([[ $OPT_REDACT == 1 ]] && echo true || echo false)" "$(json_str "$HIDDEN")" \
    "$(json_array "${REDACTION_RULES[@]}")" "$counts_json"
}

kubectl_versions_json() {
  local f="$BUNDLE_DIR/cluster-resources/version.json" client="" server=""
  if [[ -f $f ]]; then
    client=$(awk -v key=clientVersion "$JSONGET_AWK" "$f")
    server=$(awk -v key=serverVersion "$JSONGET_AWK" "$f")
  fi
  printf '{"client":%s,"server":%s}' "${client:-null}" "${server:-null}"
}

write_manifest() {
  local seq complete
  complete=$([[ $COMPLETE == 1 ]] && echo true || echo false)
  {
    printf '{\n'
    printf '  "format": %s,\n' "$(json_str "$BUNDLE_FORMAT")"
    printf '  "collector": {"name": %s, "version": %s},\n' "$(json_str "$COLLECTOR_NAME")" "$(json_str "$COLLECTOR_VERSION")"
    printf '  "collected_at": %s,\n' "$(json_str "$COLLECTED_AT")"
    printf '  "finished_at": %s,\n' "$(json_str "$FINISHED_AT")"
    printf '  "complete": %s,\n' "$complete"
    printf '  "interrupted": %s,\n' "$(json_str_or_null "$INTERRUPTED")"
    printf '  "kubectl": %s,\n' "$(kubectl_versions_json)"
    printf '  "config": %s,\n' "$(config_json)"
    printf '  "options": {"parallel": %d, "request_timeout_seconds": %d, "deadline_seconds": %d, "log_since": %s, "log_limit_bytes": %d, "max_job_logs": %d, "config_file": %s},\n' \
      "$OPT_PARALLEL" "$OPT_REQUEST_TIMEOUT" "$OPT_DEADLINE" "$(json_str "$OPT_SINCE")" "$OPT_LIMIT_BYTES" "$OPT_MAX_JOB_LOGS" "$(json_str_or_null "${CONFIG_FILE_USED:-}")"
    printf '  "redaction": %s,\n' "$(redaction_json)"
    printf '  "commands": ['
    local -a entries=()
    for (( seq = 1; seq <= Q_N; seq++ )); do
      [[ -f $META/$seq.entry ]] || record_unfinished "$seq" skipped "skipped: not started"
      entries+=("$META/$seq.entry")
    done
    # One line per entry file, joined in one process (not one cat per command).
    (( ${#entries[@]} > 0 )) && awk '{ printf "%s\n    %s", (NR > 1 ? "," : ""), $0 }' "${entries[@]}"
    printf '\n  ]\n}\n'
  } >"$BUNDLE_DIR/manifest.json"
}

human_size() {
  local b=$1
  if (( b >= 1048576 )); then printf '%d.%d MiB' "$(( b / 1048576 ))" "$(( b % 1048576 * 10 / 1048576 ))"
  elif (( b >= 1024 )); then printf '%d KiB' "$(( b / 1024 ))"
  else printf '%d B' "$b"; fi
}

finalize() {
  trap '' INT TERM
  local failed=0 s size g
  utc_now FINISHED_AT
  COMPLETE=1
  [[ -n $STOP || $DEADLINE_HIT == 1 ]] && COMPLETE=0
  (( ${STATUS_COUNT[skipped]:-0} + ${STATUS_COUNT[interrupted]:-0} > 0 )) && COMPLETE=0
  INTERRUPTED=""
  [[ -n $STOP ]] && INTERRUPTED=$STOP
  [[ -z $STOP && $DEADLINE_HIT == 1 ]] && INTERRUPTED="deadline"
  write_config_yaml
  write_manifest
  local tmp_out="$OPT_OUTPUT.partial.$$"
  if ! tar -cf - -C "$WORK" "$BUNDLE_NAME" | gzip -c >"$tmp_out"; then
    rm -f "$tmp_out"
    log "$COLLECTOR_NAME: could not write $OPT_OUTPUT"
    return 1
  fi
  mv -f "$tmp_out" "$OPT_OUTPUT" || return 1
  size=$(file_size "$OPT_OUTPUT")
  for s in ${STATUS_COUNT[@]+"${!STATUS_COUNT[@]}"}; do
    case $s in ok|partial|skipped) ;; *) failed=$(( failed + STATUS_COUNT[$s] )) ;; esac
  done
  log ""
  log "Bundle: $OPT_OUTPUT ($(human_size "$size"))"
  failed=$(( failed - ${#OPTIONAL_FAILED[@]} ))
  log "Commands: $Q_N total, $(( ${STATUS_COUNT[ok]:-0} + ${STATUS_COUNT[partial]:-0} )) ok, $failed failed, ${STATUS_COUNT[skipped]:-0} skipped${OPTIONAL_FAILED[0]:+, ${#OPTIONAL_FAILED[@]} optional failed}"
  if (( ${#GAPS[@]} > 0 )); then
    log "Gaps (not collected; the analyzer reports them as unknown, not absent):"
    for g in "${GAPS[@]}"; do log "  $g"; done
  fi
  if (( ${#OPTIONAL_FAILED[@]} > 0 )); then
    log "Optional, not gaps (nothing the analyzer reads depends on them):"
    for g in "${OPTIONAL_FAILED[@]}"; do log "  $g"; done
  fi
  if [[ $COMPLETE == 0 ]]; then
    log "Bundle is incomplete (${INTERRUPTED:-commands skipped})."
  fi
  if (( ${STATUS_COUNT[ok]:-0} + ${STATUS_COUNT[partial]:-0} == 0 )); then
    log "No command succeeded: check how kubectl reaches the cluster (--ssh-command, --context, --kubeconfig)."
    NOTHING_COLLECTED=1
  fi
  return 0
}

cleanup() {
  local seq
  for seq in ${RUN_PID[@]+"${!RUN_PID[@]}"}; do
    kill -TERM "${RUN_PID[$seq]}" 2>/dev/null
  done
  [[ -n ${WAKE_FD:-} ]] && exec {WAKE_FD}>&-
  [[ -n ${WORK:-} && -d $WORK ]] && rm -rf "$WORK"
}

on_signal() {
  STOP=$1
  [[ -n ${WAKE_FD:-} ]] && printf 'signal\n' >&"$WAKE_FD"
  return 0
}

# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

main() {
  if (( BASH_VERSINFO[0] < 4 || ( BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 2 ) )); then
    printf '%s: needs bash 4.2 or newer (this is %s)\n' "$COLLECTOR_NAME" "$BASH_VERSION" >&2
    exit 2
  fi
  parse_args "$@"
  resolve_static_config
  JOB_LIMIT_S=$(( OPT_REQUEST_TIMEOUT + 30 ))

  if [[ $OPT_DRY_RUN == 1 ]]; then
    dry_run
    exit 0
  fi

  if [[ -z $SSH_CMD ]] && ! command -v kubectl >/dev/null 2>&1; then
    die "kubectl not found on PATH (or pass --ssh-command to run it elsewhere)"
  fi

  local stamp
  utc_now COLLECTED_AT
  printf -v stamp '%(%Y%m%dT%H%M%SZ)T' -1
  BUNDLE_NAME="gitops-bundle-$stamp"
  [[ -n $OPT_OUTPUT ]] || OPT_OUTPUT="./$BUNDLE_NAME.tar.gz"
  [[ -d $OPT_OUTPUT ]] && OPT_OUTPUT="${OPT_OUTPUT%/}/$BUNDLE_NAME.tar.gz"
  local outdir
  outdir=$(dirname -- "$OPT_OUTPUT")
  [[ -d $outdir && -w $outdir ]] || die "cannot write to $outdir (see -o)"

  WORK=$(mktemp -d "${TMPDIR:-/tmp}/gitops-collector.XXXXXX") || die "mktemp failed"
  trap cleanup EXIT
  trap 'on_signal SIGINT' INT
  trap 'on_signal SIGTERM' TERM
  BUNDLE_DIR="$WORK/$BUNDLE_NAME"
  TMPD="$WORK/.tmp"
  META="$WORK/.meta"
  DISCD="$WORK/.discovery"
  mkdir -p "$BUNDLE_DIR/cluster-resources" "$BUNDLE_DIR/views" "$TMPD" "$META" "$DISCD"
  # Jobs write their number here when they finish: the pool sleeps on it.
  if mkfifo "$TMPD/wake.fifo" 2>/dev/null; then
    exec {WAKE_FD}<>"$TMPD/wake.fifo"
  fi
  DEADLINE_S=$(( SECONDS + OPT_DEADLINE ))
  [[ $OPT_QUIET == 1 ]] || log "$COLLECTOR_NAME $COLLECTOR_VERSION: collecting into $OPT_OUTPUT (parallel $OPT_PARALLEL, deadline ${OPT_DEADLINE}s)"

  # Phase 1: discovery. Phase 2 starts as soon as the discovery queries are
  # done; the cluster-wide commands queued meanwhile (on_api_groups) go on.
  plan_discovery
  local seq
  for (( seq = 1; seq <= Q_N; seq++ )); do BARRIER+=("$seq"); done
  run_pool
  BARRIER=()
  if [[ -z $STOP && $DEADLINE_HIT == 0 ]]; then
    resolve_discovery
    if missing kargo_namespace && missing argocd_namespace; then
      if [[ -t 0 ]]; then
        run_pool  # let what runs finish: no progress lines in the middle of the questions
        local ssh_before=$SSH_CMD
        if ask_user; then
          # The deadline counts from here: a person was typing.
          DEADLINE_S=$(( SECONDS + OPT_DEADLINE ))
          if [[ $SSH_CMD != "$ssh_before" ]]; then
            plan_discovery
            run_pool
          fi
          [[ -z $STOP ]] && resolve_discovery
        fi
      fi
      if [[ -z $STOP ]] && missing kargo_namespace && missing argocd_namespace; then
        missing_namespaces_message
        exit 2
      fi
    fi
  fi

  # Phase 2: collection (log commands are queued as their pod lists arrive).
  if [[ -z $STOP && $DEADLINE_HIT == 0 ]]; then
    if [[ $OPT_QUIET != 1 ]]; then
      log "$COLLECTOR_NAME: namespaces: $(collect_namespaces)"
    fi
    load_group_versions
    plan_collection
    run_pool
  fi
  # A signal between two runs of the pool (phase 1 done, phase 2 not started):
  # the commands still running are stopped and the queued ones recorded.
  [[ -n $STOP ]] && abort_all "$STOP"

  finalize || exit 1
  case $STOP in
    SIGINT) exit 130 ;;
    SIGTERM) exit 143 ;;
  esac
  [[ $COMPLETE == 1 && ${NOTHING_COLLECTED:-0} == 0 ]] || exit 1
  exit 0
}

if [[ ${COLLECTOR_LIB_ONLY:-0} == 1 ]]; then
  # Sourced for tests: define the functions only.
  # shellcheck disable=SC2317
  return 0 2>/dev/null || exit 0
fi
main "$@"
