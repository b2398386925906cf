#!/usr/bin/env bash
# Export communes, one restorable file each (schema dump + registry rows + files), into
# OPSN_EXPORT_DIR. With no argument: every commune. Restore one with
#   opsn restore_commune FILE
set -euo pipefail
if [ "$#" -gt 0 ]; then
    codes=("$@")
else
    mapfile -t codes < <(opsn communes | cut -f1)
fi
for code in "${codes[@]}"; do
    opsn export_commune "$code"
done
