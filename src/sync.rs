//! Lock-poison recovery, written once.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`. If a thread panicked while holding it, the data is taken as that
/// thread left it: one panicking reconcile must not make every later one panic too.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_gives_its_data() {
        let mutex = Mutex::new(1);
        let _ = std::panic::catch_unwind(|| {
            let mut n = lock(&mutex);
            *n = 2;
            panic!("while holding the lock");
        });
        assert!(mutex.is_poisoned());
        assert_eq!(*lock(&mutex), 2);
    }
}
