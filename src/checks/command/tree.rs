//! The program's process tree, ended with the check however the check ends: a process group
//! on Unix, a Job Object on Windows.

#[cfg(unix)]
mod imp {
    //! The program's process group: created at spawn, killed when the check ends.

    /// Kills the program's whole process group when dropped, however the check ends.
    pub(in super::super) struct TreeKiller(Option<nix::unistd::Pid>);

    /// Start the program in a new process group of its own (its id is the program's pid).
    pub(in super::super) fn prepare(cmd: &mut tokio::process::Command) {
        cmd.process_group(0);
    }

    impl TreeKiller {
        pub(in super::super) fn attach(child: &tokio::process::Child) -> Self {
            let pgid = child.id().and_then(|id| i32::try_from(id).ok());
            TreeKiller(pgid.map(nix::unistd::Pid::from_raw))
        }
    }

    impl Drop for TreeKiller {
        fn drop(&mut self) {
            if let Some(pgid) = self.0 {
                // The group may already be gone; nothing useful can be done about an error here.
                let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

#[cfg(windows)]
mod imp {
    //! The program's Job Object: assigned right after spawn, closed (killing every process in
    //! it, children included) when the check ends.

    /// Holds the Job Object; dropping it closes the last handle, and kill-on-job-close ends
    /// every process of the job.
    pub(in super::super) struct TreeKiller(
        #[expect(dead_code, reason = "held for its Drop: closing the job ends the tree")]
        Option<win32job::Job>,
    );

    /// Nothing to set before spawning: the job is assigned once the process exists.
    pub(in super::super) fn prepare(_cmd: &mut tokio::process::Command) {}

    impl TreeKiller {
        pub(in super::super) fn attach(child: &tokio::process::Child) -> Self {
            let Some(handle) = child.raw_handle() else {
                return TreeKiller(None);
            };
            let mut info = win32job::ExtendedLimitInfo::new();
            info.limit_kill_on_job_close();
            let job = win32job::Job::create_with_limit_info(&info)
                .and_then(|job| job.assign_process(handle as isize).map(|()| job));
            match job {
                Ok(job) => TreeKiller(Some(job)),
                Err(e) => {
                    // The program itself still ends with the check (kill on drop); only what
                    // it starts could outlive it.
                    tracing::warn!("cannot put the command in a job object: {e}");
                    TreeKiller(None)
                }
            }
        }
    }
}

#[cfg(not(any(unix, windows)))]
mod imp {
    //! No process-tree control on this platform: the program itself is killed on drop.

    pub(in super::super) struct TreeKiller;

    pub(in super::super) fn prepare(_cmd: &mut tokio::process::Command) {}

    impl TreeKiller {
        pub(in super::super) fn attach(_child: &tokio::process::Child) -> Self {
            TreeKiller
        }
    }
}

pub(super) use imp::{TreeKiller, prepare};
