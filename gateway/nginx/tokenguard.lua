-- tokenguard for nginx (lua-nginx-module / LuaJIT): JWT verification in the access phase
-- through the tokenguard C library (capi/, libtokenguard_capi.so) and LuaJIT's FFI.
--
--   init_worker_by_lua_block {
--       require("tokenguard").init({
--           lib = "/path/to/libtokenguard_capi.so",   -- or env TOKENGUARD_LIB (`env TOKENGUARD_LIB;`)
--           jwks = "/path/to/jwks.json",              -- or env TOKENGUARD_JWKS
--           issuer = "https://issuer.example",
--           audiences = { "api" },
--       })
--   }
--   location /api/ { access_by_lua_block { require("tokenguard").verify() } proxy_pass ...; }
--
-- Each nginx worker owns one tg_cache, one tg_policy and one work buffer (LuaJIT-allocated,
-- kept alive by this module). A worker runs one Lua handler at a time and nothing here
-- yields between the C calls, so the unsynchronised cache is never used concurrently.
-- See README.md.

local ffi = require("ffi")

local _M = { _VERSION = "0.1.0" }

-- Copied from capi/include/tokenguard.h (the subset this module calls). The header's
-- #defines become enum constants; tg_result is uint32_t (the C11 typedef).
ffi.cdef [[
enum {
  TG_MAX_KEYS = 8,
  TG_CACHE_SIZE = 11264,
  TG_CACHE_WORDS = 1408,          /* TG_CACHE_SIZE / 8 */
  TG_WORK_SIZE = 8192,
  TG_SKIP_LOG = 8,
  TG_POLICY_SIZE = 1024,
  TG_POLICY_WORDS = 128,          /* TG_POLICY_SIZE / 8 */
  TG_POLICY_MAX_AUDIENCES = 4,
};

typedef uint32_t tg_result;

typedef struct tg_refresh_policy {
  uint64_t default_max_age;
  uint64_t min_max_age;
  uint64_t max_max_age;
  uint64_t retry_after;
  uint64_t unknown_kid_interval;
  uint64_t stale_for;
} tg_refresh_policy;

typedef struct tg_cache {
  uint64_t _opaque[TG_CACHE_WORDS];
} tg_cache;

typedef struct tg_jwks_report {
  uint16_t loaded;
  uint16_t unchanged;
  uint16_t skipped;
  uint16_t removed;
  uint8_t refusal;
  uint16_t needed;
  uint16_t free;
  uint8_t skips_logged;
  uint16_t skip_index[TG_SKIP_LOG];
  uint8_t skip_reason[TG_SKIP_LOG];
} tg_jwks_report;

typedef struct tg_policy {
  uint64_t _opaque[TG_POLICY_WORDS];
} tg_policy;

typedef struct tg_claims {
  uint64_t marker;
  uint8_t alg;
  bool has_exp;
  bool has_nbf;
  bool has_iat;
  uint64_t exp;
  uint64_t nbf;
  uint64_t iat;
  const uint8_t *payload;
  size_t payload_len;
} tg_claims;

const char *tg_version(void);
tg_result tg_refresh_policy_default(struct tg_refresh_policy *out);
tg_result tg_cache_init(struct tg_cache *cache, const struct tg_refresh_policy *policy);
tg_result tg_cache_key_count(const struct tg_cache *cache, size_t *count);
tg_result tg_cache_jwks_begin(struct tg_cache *cache, uint64_t max_age);
tg_result tg_cache_jwks_chunk(struct tg_cache *cache,
                              uint64_t now,
                              const uint8_t *chunk,
                              size_t len,
                              struct tg_jwks_report *report);
tg_result tg_cache_jwks_end(struct tg_cache *cache, uint64_t now, struct tg_jwks_report *report);
tg_result tg_cache_verify(struct tg_cache *cache,
                          const struct tg_policy *policy,
                          const uint8_t *token,
                          size_t token_len,
                          uint64_t now,
                          uint8_t *work,
                          size_t work_len,
                          struct tg_claims *claims);
tg_result tg_claims_get_str(const struct tg_claims *claims,
                            const uint8_t *name,
                            size_t name_len,
                            uint8_t *out,
                            size_t out_len,
                            size_t *written);
tg_result tg_policy_init(struct tg_policy *policy);
tg_result tg_policy_set_issuer(struct tg_policy *policy, const uint8_t *issuer, size_t len);
tg_result tg_policy_add_audience(struct tg_policy *policy, const uint8_t *audience, size_t len);
tg_result tg_policy_set_algorithms(struct tg_policy *policy, uint32_t mask);
tg_result tg_policy_set_leeway(struct tg_policy *policy, uint32_t seconds);
const char *tg_result_name(uint32_t result);
]]

local C = ffi.C
local OK = 0
local RESULT_JWKS_REFUSED = 33
local NO_MAX_AGE = 0xffffffffffffffffULL    -- TG_NO_MAX_AGE (UINT64_MAX)
local SUB_MAX = 256

-- The algorithm codes of the header (TG_ALG_*).
local ALG_CODES = {
  HS256 = 0, HS384 = 1, HS512 = 2, RS256 = 3, RS384 = 4, RS512 = 5, PS256 = 6, PS384 = 7,
  PS512 = 8, ES256 = 9, ES384 = 10, EdDSA = 11, Ed25519 = 12, ES512 = 13, ES256K = 14,
}
local DEFAULT_ALGS = {
  "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "Ed25519",
}

-- docs/c-api.md, "Results": results 1..18 are a token's verdict and tg_result_name gives
-- the engine's stable code, in this order. Only these go into error_description.
local TOKEN_CODES = {
  "malformed", "too_large", "unsupported_alg", "alg_not_allowed", "key_not_found",
  "key_rejected", "bad_signature", "expired", "not_yet_valid", "issued_in_future",
  "wrong_issuer", "wrong_audience", "wrong_subject", "wrong_type", "missing_claim",
  "invalid_claim", "crit_unsupported", "replayed",
}

-- Per-worker state (module-level: one copy per worker's Lua VM).
local lib            -- the ffi.load'ed library
local cache          -- tg_cache[1]
local policy         -- tg_policy[1]
local work           -- uint8_t[TG_WORK_SIZE]
local claims         -- tg_claims[1]
local count_out      -- size_t[1]
local sub_buf        -- uint8_t[SUB_MAX]
local written        -- size_t[1]
local report         -- tg_jwks_report[1]
local config = {}

local function name_of(r)
  return ffi.string(lib.tg_result_name(r))
end

-- The error_description code for a verify result, or nil when the result is no token
-- verdict (an interface or configuration error).
local function token_code(r)
  if r >= 1 and r <= #TOKEN_CODES then
    local name = name_of(r)
    if name ~= TOKEN_CODES[r] then
      -- The library and docs/c-api.md disagree: say so, and trust the library's name.
      ngx.log(ngx.WARN, "tokenguard: result ", r, " is named ", name, ", docs/c-api.md says ",
        TOKEN_CODES[r])
    end
    return name
  end
  return nil
end

local function check(what, r)
  if r ~= OK then
    error(string.format("tokenguard: %s: %s (%d)", what, name_of(r), r), 2)
  end
end

local function key_count()
  check("tg_cache_key_count", lib.tg_cache_key_count(cache, count_out))
  return tonumber(count_out[0])
end

--- Loads the JWK Set in `path` into the worker's cache, all or nothing: a set the library
--- refuses (or a file that cannot be read) leaves the keys in force as they were.
--- Returns true, or nil and a reason.
function _M.load_jwks(path)
  path = path or config.jwks
  local f, err = io.open(path, "rb")
  if not f then
    return nil, "cannot open JWK Set: " .. tostring(err)
  end
  local body = f:read("*a")
  f:close()
  if not body then
    return nil, "cannot read JWK Set " .. path
  end
  local now = ngx.time()
  check("tg_cache_jwks_begin", lib.tg_cache_jwks_begin(cache, config.max_age or NO_MAX_AGE))
  local r = lib.tg_cache_jwks_chunk(cache, now, body, #body, report)
  if r == OK then
    r = lib.tg_cache_jwks_end(cache, now, report)
  end
  local rep = report[0]
  if r ~= OK then
    local why = name_of(r)
    if r == RESULT_JWKS_REFUSED then
      why = why .. " (refusal " .. rep.refusal .. ")"
    end
    return nil, string.format("JWK Set %s refused: %s; %d key(s) stay in force", path, why,
      key_count())
  end
  ngx.log(ngx.INFO, "tokenguard: JWK Set ", path, ": ", rep.loaded, " key(s) loaded (",
    rep.unchanged, " unchanged), ", rep.skipped, " skipped, ", rep.removed, " removed")
  return true
end

local function algorithm_mask(names)
  local mask = 0
  for _, n in ipairs(names) do
    local code = ALG_CODES[n]
    if not code then
      error("tokenguard: unknown algorithm " .. tostring(n), 3)
    end
    mask = bit.bor(mask, bit.lshift(1, code))
  end
  return mask
end

--- init_worker_by_lua: loads the library, sets up this worker's cache and policy and loads
--- the JWK Set. opts: lib, jwks (or env TOKENGUARD_LIB / TOKENGUARD_JWKS), issuer,
--- audiences (a list, or audience), algorithms (names; default: every asymmetric one),
--- leeway (seconds), max_age (seconds the file's keys are fresh; default: the library's
--- 3600), reload_every (seconds between re-reads of the file; 0: never; default 300).
function _M.init(opts)
  opts = opts or {}
  config = {
    lib = opts.lib or os.getenv("TOKENGUARD_LIB"),
    jwks = opts.jwks or os.getenv("TOKENGUARD_JWKS"),
    issuer = opts.issuer,
    audiences = opts.audiences or { opts.audience },
    algorithms = opts.algorithms or DEFAULT_ALGS,
    leeway = opts.leeway,
    max_age = opts.max_age,
    reload_every = opts.reload_every or 300,
  }
  if not config.lib or config.lib == "" then
    error("tokenguard: no library path (opts.lib or env TOKENGUARD_LIB)")
  end
  if not config.jwks or config.jwks == "" then
    error("tokenguard: no JWK Set file (opts.jwks or env TOKENGUARD_JWKS)")
  end
  if not config.issuer or #config.audiences == 0 then
    error("tokenguard: the policy needs an issuer and at least one audience")
  end

  lib = ffi.load(config.lib)

  -- Sizes: the cdef above must match the library's build (docs/c-api.md, "Objects").
  assert(ffi.sizeof("tg_cache") == C.TG_CACHE_SIZE, "tg_cache size")
  assert(ffi.sizeof("tg_policy") == C.TG_POLICY_SIZE, "tg_policy size")

  cache = ffi.new("tg_cache[1]")
  policy = ffi.new("tg_policy[1]")
  work = ffi.new("uint8_t[?]", C.TG_WORK_SIZE)
  claims = ffi.new("tg_claims[1]")
  count_out = ffi.new("size_t[1]")
  sub_buf = ffi.new("uint8_t[?]", SUB_MAX)
  written = ffi.new("size_t[1]")
  report = ffi.new("tg_jwks_report[1]")

  local refresh = ffi.new("tg_refresh_policy[1]")
  check("tg_refresh_policy_default", lib.tg_refresh_policy_default(refresh))
  check("tg_cache_init", lib.tg_cache_init(cache, refresh))

  check("tg_policy_init", lib.tg_policy_init(policy))
  check("tg_policy_set_issuer", lib.tg_policy_set_issuer(policy, config.issuer, #config.issuer))
  for _, aud in ipairs(config.audiences) do
    check("tg_policy_add_audience", lib.tg_policy_add_audience(policy, aud, #aud))
  end
  check("tg_policy_set_algorithms",
    lib.tg_policy_set_algorithms(policy, algorithm_mask(config.algorithms)))
  if config.leeway then
    check("tg_policy_set_leeway", lib.tg_policy_set_leeway(policy, config.leeway))
  end

  local ok, err = _M.load_jwks()
  if ok then
    ngx.log(ngx.NOTICE, "tokenguard ", ffi.string(lib.tg_version()), ": ", key_count(),
      " key(s) from ", config.jwks)
  else
    -- Not fatal: the worker answers 503 until a reload brings keys.
    ngx.log(ngx.ERR, "tokenguard: ", err)
  end

  -- Re-read the file now and then: picks up rotations, and keeps the keys fresh (file
  -- keys are "fetched" keys: past max-age plus the stale window they would be refused).
  if config.reload_every > 0 then
    local okt, terr = ngx.timer.every(config.reload_every, function(premature)
      if premature then return end
      local rok, rerr = _M.load_jwks()
      if not rok then
        ngx.log(ngx.ERR, "tokenguard: reload: ", rerr)
      end
    end)
    if not okt then
      ngx.log(ngx.ERR, "tokenguard: cannot start the reload timer: ", terr)
    end
  end
end

local function deny(status, challenge)
  ngx.header["WWW-Authenticate"] = challenge
  return ngx.exit(status)
end

--- access_by_lua: lets the request through with X-Jwt-Sub set from the token's `sub`
--- (a client-sent X-Jwt-Sub is always replaced or removed), or ends it: 401 without a
--- token or with a refused one, 400 for several Authorization headers, 503 without keys,
--- 500 for an interface or configuration error.
function _M.verify()
  if not cache then
    ngx.log(ngx.ERR, "tokenguard: verify() before init()")
    return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
  end
  -- Never pass on a client's claim headers, whatever happens next.
  ngx.req.clear_header("X-Jwt-Sub")

  if key_count() == 0 then
    ngx.log(ngx.ERR, "tokenguard: no keys in force (JWK Set ", config.jwks, " not loaded)")
    return ngx.exit(ngx.HTTP_SERVICE_UNAVAILABLE)
  end

  local auth = ngx.req.get_headers()["authorization"]
  if type(auth) == "table" then
    return deny(ngx.HTTP_BAD_REQUEST, 'Bearer error="invalid_request"')
  end
  local token = auth and auth:match("^[Bb][Ee][Aa][Rr][Ee][Rr] +([^ ]+) *$")
  if not token then
    -- No credentials, or another scheme (RFC 6750 section 3: no error code).
    return deny(ngx.HTTP_UNAUTHORIZED, "Bearer")
  end
  if #token > C.TG_WORK_SIZE then
    -- Longer than the work buffer and the policy's default 8192-byte limit.
    return deny(ngx.HTTP_UNAUTHORIZED,
      'Bearer error="invalid_token", error_description="too_large"')
  end

  local r = lib.tg_cache_verify(cache, policy, token, #token, ngx.time(), work,
    C.TG_WORK_SIZE, claims)
  if r ~= OK then
    local code = token_code(r)
    if not code then
      ngx.log(ngx.ERR, "tokenguard: tg_cache_verify: ", name_of(r), " (", r, ")")
      return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
    end
    ngx.log(ngx.INFO, "tokenguard: token refused: ", code)
    return deny(ngx.HTTP_UNAUTHORIZED,
      'Bearer error="invalid_token", error_description="' .. code .. '"')
  end

  -- The claims view points into `work`: read it before the next verify.
  local g = lib.tg_claims_get_str(claims, "sub", 3, sub_buf, SUB_MAX, written)
  if g == OK then
    ngx.req.set_header("X-Jwt-Sub", ffi.string(sub_buf, written[0]))
  elseif name_of(g) ~= "not_found" then
    -- A `sub` that is no string, or longer than SUB_MAX - 1 bytes.
    ngx.log(ngx.INFO, "tokenguard: sub not passed on: ", name_of(g))
  end
end

--- content_by_lua for an internal (loopback-only) location: re-reads the JWK Set now.
--- 200 "reloaded N" or 409 "refused ...: N key(s) stay in force".
function _M.reload_handler()
  local ok, err = _M.load_jwks()
  if ok then
    ngx.say("reloaded ", key_count())
  else
    ngx.status = 409
    ngx.say(err)
  end
  return ngx.exit(ngx.status)
end

return _M
