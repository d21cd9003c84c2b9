# Argument checks shared by tools/dist_train.sh, dist_test.sh and slurm_train.sh (sourced).
# They run before torchrun/srun start processes that would each fail alike. Each prints
# "<script>: <what is wrong>." and the caller's $usage to stderr, then exits 2.

launch_error() {
    echo "$0: $1." >&2
    echo "$usage" >&2
    exit 2
}

# require_args COUNT NAMES GIVEN: at least COUNT arguments were given.
require_args() {
    if [ "$3" -lt "$1" ]; then
        launch_error "expected $2, got $3 argument(s)"
    fi
}

# require_count NAME VALUE: VALUE is a whole number >= 1.
require_count() {
    if ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
        launch_error "$1 must be a whole number >= 1, got '$2'"
    fi
}

# require_config PATH: the config file exists.
require_config() {
    if [ ! -f "$1" ]; then
        launch_error "config file not found: '$1'"
    fi
}
