//! Data-parallel runs launched by `torchrun` (or anything that sets its variables): the
//! launch read from the environment, the c10d process group set up from it, and the check that
//! every rank runs the same configuration.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use goemo_torch::{Backend, ProcessGroup, Rendezvous};
use goemo_train::DataParallel;
use tch::Device;

use crate::{Result, RunConfig, RunError};

/// Which c10d backend a data-parallel run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DistBackend {
    /// NCCL on CUDA, Gloo on the CPU.
    #[default]
    Auto,
    /// NCCL (CUDA).
    Nccl,
    /// Gloo (CPU).
    Gloo,
}

impl fmt::Display for DistBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DistBackend::Auto => "auto",
            DistBackend::Nccl => "nccl",
            DistBackend::Gloo => "gloo",
        })
    }
}

impl FromStr for DistBackend {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(DistBackend::Auto),
            "nccl" => Ok(DistBackend::Nccl),
            "gloo" => Ok(DistBackend::Gloo),
            _ => Err(format!("unknown distributed backend {s:?} (auto, nccl, gloo)")),
        }
    }
}

impl DistBackend {
    /// The backend for a model on `device`.
    pub fn resolve(self, device: Device) -> Backend {
        match self {
            DistBackend::Nccl => Backend::Nccl,
            DistBackend::Gloo => Backend::Gloo,
            DistBackend::Auto if device.is_cuda() => Backend::Nccl,
            DistBackend::Auto => Backend::Gloo,
        }
    }
}

/// One process of a launch, as `torchrun` describes it in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// This process's rank.
    pub rank: usize,
    /// Processes in the job.
    pub world_size: usize,
    /// This process's index on its node: the GPU it uses.
    pub local_rank: usize,
    /// Host of the rendezvous store.
    pub master_addr: String,
    /// Port of the rendezvous store.
    pub master_port: u16,
    /// How many times torchrun has restarted the group (`TORCHELASTIC_RESTART_COUNT`).
    pub restart_count: u64,
    /// Whether torchrun's agent serves the store (`TORCHELASTIC_USE_AGENT_STORE`), so that no
    /// rank starts one.
    pub agent_store: bool,
}

impl Launch {
    /// The launch in this process's environment; `None` when `RANK` and `WORLD_SIZE` are
    /// absent (a single-process run).
    pub fn from_env() -> Result<Option<Launch>> {
        Launch::from_vars(|name| std::env::var(name).ok())
    }

    /// The launch described by `var` (an environment).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Launch>> {
        if var("RANK").is_none() && var("WORLD_SIZE").is_none() {
            return Ok(None);
        }
        let required = |name: &str| {
            var(name).ok_or_else(|| {
                RunError::Launch(format!(
                    "{name} is not set, though RANK or WORLD_SIZE is (launch with torchrun)"
                ))
            })
        };
        let number = |name: &str, value: String| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| RunError::Launch(format!("{name}={value:?} is not a non-negative integer")))
        };
        let rank = number("RANK", required("RANK")?)? as usize;
        let world_size = number("WORLD_SIZE", required("WORLD_SIZE")?)? as usize;
        if world_size == 0 || rank >= world_size {
            return Err(RunError::Launch(format!(
                "RANK={rank} is outside WORLD_SIZE={world_size}"
            )));
        }
        let local_rank = match var("LOCAL_RANK") {
            Some(v) => number("LOCAL_RANK", v)? as usize,
            None => rank,
        };
        let master_port = number("MASTER_PORT", required("MASTER_PORT")?)?;
        let master_port = u16::try_from(master_port)
            .map_err(|_| RunError::Launch(format!("MASTER_PORT={master_port} is not a port (0 to 65535)")))?;
        Ok(Some(Launch {
            rank,
            world_size,
            local_rank,
            master_addr: required("MASTER_ADDR")?,
            master_port,
            restart_count: var("TORCHELASTIC_RESTART_COUNT")
                .map_or(Ok(0), |v| number("TORCHELASTIC_RESTART_COUNT", v))?,
            agent_store: var("TORCHELASTIC_USE_AGENT_STORE").as_deref() == Some("True"),
        }))
    }

    /// The device this rank trains on: its node's GPU `LOCAL_RANK` when the run is on CUDA.
    pub fn device(&self, configured: Device) -> Device {
        match configured {
            Device::Cuda(_) => Device::Cuda(self.local_rank),
            other => other,
        }
    }

    /// Joins the group (c10d over a TCPStore at `MASTER_ADDR:MASTER_PORT`) and checks that every
    /// rank runs `config`.
    pub fn join(&self, config: &RunConfig, device: Device) -> Result<DataParallel> {
        let backend = config.dist_backend.resolve(device);
        let rendezvous = Rendezvous {
            host: self.master_addr.clone(),
            port: self.master_port,
            rank: self.rank,
            world_size: self.world_size,
            serve_store: self.rank == 0 && !self.agent_store,
            // Keys of one attempt never meet those of the attempt before a restart.
            prefix: format!("goemo/attempt_{}", self.restart_count),
            timeout: Duration::from_secs_f64(config.dist_timeout),
        };
        let group = ProcessGroup::new(backend, &rendezvous).map_err(goemo_train::TrainError::from)?;
        let parallel = DataParallel::new(Box::new(group), device)
            .with_bucket_bytes((config.bucket_mb * f64::from(1 << 20)) as usize)
            .with_overlap(!config.reduce_after_backward);
        parallel.check_same(&config_fields(config))?;
        Ok(parallel)
    }
}

/// Each option of `config` as a name and its value, for comparing ranks.
fn config_fields(config: &RunConfig) -> Vec<(String, String)> {
    match serde_json::to_value(config) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().map(|(k, v)| (k, v.to_string())).collect(),
        _ => unreachable!("RunConfig serialises to an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn launch(vars: &[(&str, &str)]) -> Result<Option<Launch>> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Launch::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn torchrun_variables_describe_the_launch() {
        assert_eq!(launch(&[]).unwrap(), None);
        let l = launch(&[
            ("RANK", "3"),
            ("WORLD_SIZE", "4"),
            ("LOCAL_RANK", "1"),
            ("MASTER_ADDR", "10.0.0.1"),
            ("MASTER_PORT", "29500"),
            ("TORCHELASTIC_RESTART_COUNT", "2"),
            ("TORCHELASTIC_USE_AGENT_STORE", "True"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!((l.rank, l.world_size, l.local_rank, l.restart_count), (3, 4, 1, 2));
        assert!(l.agent_store);
        assert_eq!(l.device(Device::Cuda(0)), Device::Cuda(1));
        assert_eq!(l.device(Device::Cpu), Device::Cpu);
    }

    #[test]
    fn a_broken_launch_names_the_variable() {
        let err = |vars: &[(&str, &str)]| launch(vars).unwrap_err().to_string();
        assert!(err(&[("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_PORT", "1")]).contains("MASTER_ADDR is not set"));
        let base = [("WORLD_SIZE", "2"), ("MASTER_ADDR", "h"), ("MASTER_PORT", "1")];
        assert!(err(&[&base[..], &[("RANK", "x")]].concat()).contains("RANK=\"x\""));
        assert!(err(&[&base[..], &[("RANK", "2")]].concat()).contains("outside WORLD_SIZE=2"));
        let bad_port = [
            ("RANK", "0"),
            ("WORLD_SIZE", "1"),
            ("MASTER_ADDR", "h"),
            ("MASTER_PORT", "70000"),
        ];
        assert!(err(&bad_port).contains("MASTER_PORT=70000"));
    }

    #[test]
    fn backends_resolve_by_device() {
        assert_eq!(DistBackend::Auto.resolve(Device::Cpu), Backend::Gloo);
        assert_eq!(DistBackend::Auto.resolve(Device::Cuda(0)), Backend::Nccl);
        assert_eq!(DistBackend::Gloo.resolve(Device::Cuda(0)), Backend::Gloo);
        assert_eq!("nccl".parse::<DistBackend>().unwrap(), DistBackend::Nccl);
        assert!("mpi".parse::<DistBackend>().unwrap_err().contains("mpi"));
    }
}
