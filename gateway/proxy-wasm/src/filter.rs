//! The proxy-wasm glue: Envoy's root context (configuration, the timer, the JWKS callout)
//! and HTTP contexts (one per request) around [`Engine`]. Envoy runs one VM per worker
//! thread plus the main thread's; they share the key set through shared data (scoped by the
//! config's `vm_id`), so one VM fetches and every VM loads the same record.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};

use crate::config;
use crate::engine::{
    fetch_due, max_age, Engine, FetchState, Record, Verdict, KEY_FETCH, KEY_GENERATION, KEY_RECORD,
};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

/// What a VM's contexts share: the engine and the metric ids.
struct Vm {
    engine: Engine,
    metrics: HashMap<String, u32>,
}

impl Vm {
    /// Adds 1 to the counter `tokenguard.<name>` (defined on first use; Envoy shows it as
    /// `wasmcustom.tokenguard.<name>`, one counter for all VMs).
    fn count(&mut self, name: &str) {
        let id = match self.metrics.get(name) {
            Some(id) => *id,
            None => {
                match hostcalls::define_metric(MetricType::Counter, &format!("tokenguard.{name}")) {
                    Ok(id) => {
                        self.metrics.insert(name.to_owned(), id);
                        id
                    }
                    Err(_) => return,
                }
            }
        };
        let _ = hostcalls::increment_metric(id, 1);
    }
}

fn now(ctx: &dyn Context) -> u64 {
    ctx.get_current_time()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The generation of the shared key-set record (0: none yet).
fn shared_generation(ctx: &dyn Context) -> u64 {
    ctx.get_shared_data(KEY_GENERATION)
        .0
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0)
}

/// Loads the shared record into this VM's engine if its generation moved.
fn sync(ctx: &dyn Context, vm: &mut Vm) {
    if shared_generation(ctx) <= vm.engine.generation() {
        return;
    }
    if let Some(bytes) = ctx.get_shared_data(KEY_RECORD).0 {
        if let Err(e) = vm.engine.sync(&bytes) {
            log::error!("the shared key set: {e}");
        }
    }
}

#[derive(Default)]
struct Root {
    vm: Option<Rc<RefCell<Vm>>>,
    /// The callout this VM is waiting for.
    pending: Option<u32>,
    first_tick: bool,
}

impl Root {
    fn tick_period(&self) -> Duration {
        let ms = self
            .vm
            .as_ref()
            .map_or(1000, |vm| vm.borrow().engine.config().config.tick_ms);
        Duration::from_millis(ms)
    }

    /// Claims the next fetch for this VM: writes the fetch state with the compare-and-swap
    /// token read with it, so of several VMs only one succeeds. (The very first write, when
    /// no state exists yet, cannot be compared: at worst two VMs fetch once each.)
    fn claim_fetch(&self, now: u64, timeout_s: u64) -> Option<FetchState> {
        let (bytes, cas) = self.get_shared_data(KEY_FETCH);
        let state = FetchState::decode(bytes.as_deref());
        // The VM has just synced with the shared record: its engine knows when that set's
        // lifetime ends.
        let vm = self.vm.as_ref()?.borrow();
        let policy = vm.engine.config().config.refresh.policy();
        let reason = fetch_due(&state, vm.engine.expires_at(), &policy, now)?;
        let claimed = FetchState {
            last_attempt: now,
            inflight_until: now + timeout_s + 1,
            ..state
        };
        self.set_shared_data(KEY_FETCH, Some(&claimed.encode()), cas)
            .ok()?;
        log::info!("fetching the JWK Set ({reason})");
        Some(claimed)
    }

    fn finish_fetch(&self, now: u64, ok: bool) {
        for _ in 0..8 {
            let (bytes, cas) = self.get_shared_data(KEY_FETCH);
            let mut state = FetchState::decode(bytes.as_deref());
            state.inflight_until = 0;
            state.last_failure = if ok { 0 } else { now };
            if ok {
                state.kid_miss_at = 0;
            }
            if self
                .set_shared_data(KEY_FETCH, Some(&state.encode()), cas)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Publishes a document this VM fetched and loaded: the record, then its generation.
    fn publish(&self, vm: &mut Vm, doc: &[u8], fetched_at: u64, max_age: Option<u64>) {
        let generation = shared_generation(self).max(vm.engine.generation()) + 1;
        let rec = Record {
            generation,
            fetched_at,
            max_age,
            doc,
        };
        if self
            .set_shared_data(KEY_RECORD, Some(&rec.encode()), None)
            .is_ok()
            && self
                .set_shared_data(
                    KEY_GENERATION,
                    Some(generation.to_string().as_bytes()),
                    None,
                )
                .is_ok()
        {
            vm.engine.set_generation(generation);
        }
    }
}

impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        if self.pending != Some(token_id) {
            return;
        }
        self.pending = None;
        let Some(vm) = self.vm.clone() else { return };
        let now = now(self);
        let status = self.get_http_call_response_header(":status");
        let age = max_age(
            self.get_http_call_response_header("cache-control")
                .as_deref(),
        );
        let body = self
            .get_http_call_response_body(0, body_size)
            .unwrap_or_default();
        let mut vm = vm.borrow_mut();
        // The shared record may be newer than this VM's copy: start from it.
        sync(self, &mut vm);
        let outcome = if status.as_deref() == Some("200") {
            vm.engine.load(&body, now, age)
        } else {
            Err(format!(
                "HTTP status {}",
                status.as_deref().unwrap_or("(none)")
            ))
        };
        vm.count("jwks.fetches");
        match outcome {
            Ok(n) => {
                log::info!("JWK Set loaded: {n} keys, max-age {age:?}");
                self.publish(&mut vm, &body, now, age);
                self.finish_fetch(now, true);
            }
            Err(e) => {
                log::warn!("JWK Set fetch failed, the keys stay as they were: {e}");
                vm.count("jwks.fetch_failures");
                self.finish_fetch(now, false);
            }
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let raw = self.get_plugin_configuration().unwrap_or_default();
        match config::parse(&raw) {
            Ok(cfg) => {
                self.vm = Some(Rc::new(RefCell::new(Vm {
                    engine: Engine::new(cfg),
                    metrics: HashMap::new(),
                })));
                // The first look soon; then every tick_ms.
                self.first_tick = true;
                self.set_tick_period(Duration::from_millis(50));
                true
            }
            Err(e) => {
                log::error!("{e}");
                false
            }
        }
    }

    fn on_tick(&mut self) {
        if self.first_tick {
            self.first_tick = false;
            self.set_tick_period(self.tick_period());
        }
        let Some(vm) = self.vm.clone() else { return };
        let now = now(self);
        sync(self, &mut vm.borrow_mut());
        if self.pending.is_some() {
            return;
        }
        let (cluster, path, authority, timeout_ms) = {
            let v = vm.borrow();
            let j = &v.engine.config().config.jwks;
            (
                j.cluster.clone(),
                j.path.clone(),
                j.authority.clone().unwrap_or_else(|| j.cluster.clone()),
                j.timeout_ms,
            )
        };
        if self.claim_fetch(now, timeout_ms / 1000).is_none() {
            return;
        }
        match self.dispatch_http_call(
            &cluster,
            vec![
                (":method", "GET"),
                (":path", &path),
                (":authority", &authority),
                ("accept", "application/json"),
            ],
            None,
            vec![],
            Duration::from_millis(timeout_ms),
        ) {
            Ok(id) => self.pending = Some(id),
            Err(e) => {
                log::warn!("cannot call cluster {cluster:?}: {e:?}");
                let mut v = vm.borrow_mut();
                v.count("jwks.fetches");
                v.count("jwks.fetch_failures");
                self.finish_fetch(now, false);
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http {
            vm: self.vm.clone()?,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Http {
    vm: Rc<RefCell<Vm>>,
}

impl Context for Http {}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let now = now(self);
        let mut vm = self.vm.borrow_mut();
        sync(self, &mut vm);
        // Only the two headers the verdict needs cross the host boundary.
        let path = self
            .get_http_request_header(":path")
            .unwrap_or_else(|| "/".to_owned());
        let token_header = vm.engine.token_header().to_owned();
        let value = self.get_http_request_header(&token_header);
        let lookup = |name: &str| {
            if name.eq_ignore_ascii_case(&token_header) {
                value.as_deref()
            } else {
                None
            }
        };
        let hits = vm.engine.cache_hits();
        let verdict = vm.engine.check(&path, &lookup, now);
        vm.count(&verdict.counter());
        if vm.engine.cache_hits() > hits {
            vm.count("token_cache.hits");
        }
        if let Verdict::Rejected {
            kid_missed: true, ..
        } = verdict
        {
            note_kid_miss(self, now);
        }
        match verdict {
            Verdict::Skipped => Action::Continue,
            Verdict::Accepted { headers: forward } => {
                // The upstream only sees claim headers the filter set.
                for f in &vm.engine.config().config.forward_claims {
                    self.set_http_request_header(&f.header, None);
                }
                for (k, v) in &forward {
                    self.set_http_request_header(k, Some(v));
                }
                Action::Continue
            }
            v => {
                let status = v.status().unwrap_or(401);
                let www = v.www_authenticate();
                let mut out: Vec<(&str, &str)> = vec![("content-type", "text/plain")];
                if let Some(w) = &www {
                    out.push(("www-authenticate", w));
                }
                let body = match &v {
                    Verdict::Unavailable { reason } => format!("unavailable: {reason}\n"),
                    Verdict::Rejected { code, .. } => format!("unauthorized: {code}\n"),
                    _ => "unauthorized: missing_token\n".to_owned(),
                };
                self.send_http_response(status, out, Some(body.as_bytes()));
                Action::Pause
            }
        }
    }
}

/// Asks for a refetch: a request named an unknown `kid` (the fetch schedule rate-limits it).
fn note_kid_miss(ctx: &dyn Context, now: u64) {
    for _ in 0..4 {
        let (bytes, cas) = ctx.get_shared_data(KEY_FETCH);
        let mut state = FetchState::decode(bytes.as_deref());
        if state.kid_miss_at > state.last_attempt {
            return; // already asked
        }
        state.kid_miss_at = now.max(state.last_attempt + 1);
        if ctx
            .set_shared_data(KEY_FETCH, Some(&state.encode()), cas)
            .is_ok()
        {
            return;
        }
    }
}
