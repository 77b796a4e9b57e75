# shellcheck shell=bash
# Hostile names and symlinks: whatever an archive holds, restore never
# writes outside its target and never writes through a symlink.

# A stdin name that tries to climb out (or is absolute): backup either
# refuses it with a clear error or stores a sanitized name; either way a
# restore writes nothing outside the target.
test_hostile_stdin_names() {
	new_repo
	local name n=0 before
	for name in '../escape' 'a/../../escape2' "$T/abs-escape" '/etc/bkp-test-must-not-exist' '..' './../escape3'; do
		n=$((n + 1))
		before=$(find "$REPO" -path '*archives/*' -type f | wc -l)
		printf 'payload %s\n' "$n" | run_bkp backup -r "$REPO" --name hostile --stdin-name "$name" -
		if [ "$(_rc)" != 0 ]; then
			note "backup refused --stdin-name '$name'"
			expect_error_line "$(re_quote "$name")" "backup --stdin-name '$name'"
			[ "$(find "$REPO" -path '*archives/*' -type f | wc -l)" = "$before" ] || fail "refused backup left an archive record"
			continue
		fi
		ID=$(head -n 1 "$BKPT_DIR/stdout")
		note "backup accepted --stdin-name '$name' as archive $ID"
		outside_snapshot "$BKPT_DIR/before" "rt$n"
		mkdir -p "rt$n/deep"
		run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target "rt$n/deep"
		outside_unchanged "$BKPT_DIR/before" "rt$n"
		[ ! -e /etc/bkp-test-must-not-exist ] || { rm -f /etc/bkp-test-must-not-exist; fail "restore wrote /etc/bkp-test-must-not-exist"; }
		[ -z "$(find "rt$n" -maxdepth 1 -type f)" ] || fail "restore of '$name' wrote beside the target: $(ls "rt$n")"
		if [ "$(_rc)" = 0 ]; then
			grep -arqx "payload $n" "rt$n/deep" || fail "restore of a sanitized '$name' succeeded but the data is not in the target"
		else
			expect_error_line "$(re_quote "${name##*/}")" "restore of an archive with entry '$name'"
		fi
	done
	return 0
}

# Symlinks pointing outside (relative and absolute) are restored as
# symlinks, and a later restore never writes through them.
test_symlinks_escaping_target() {
	new_repo
	mkdir -p src outside h2/src/up h2/src/abs
	echo keep >outside/keep
	ln -s ../../outside src/up
	ln -s "$T/outside" src/abs
	ln -s ../../outside/newfile src/up-file
	echo plain >src/plain
	backup_id links src
	local a1=$ID
	# The second archive has real directories and files where the first
	# has symlinks (same archive paths: src/up/x, src/abs/y, src/up-file).
	echo x >h2/src/up/x
	echo y >h2/src/abs/y
	echo z >h2/src/up-file
	(cd h2 && backup_id dirs src) || exit 1
	local a2
	a2=$(head -n 1 "$BKPT_DIR/stdout")
	[ "$a2" != "$a1" ] || fail "test setup: second archive not found"

	outside_snapshot "$BKPT_DIR/before" rt
	run_bkp restore -r "$REPO" -k "$KEY" "$a1" --target rt
	expect_exit 0 "restore of an archive with escaping symlinks"
	outside_unchanged "$BKPT_DIR/before" rt
	[ -L rt/src/up ] && [ "$(readlink rt/src/up)" = ../../outside ] || fail "relative symlink not restored as a symlink"
	[ -L rt/src/abs ] && [ "$(readlink rt/src/abs)" = "$T/outside" ] || fail "absolute symlink not restored as a symlink"
	[ "$(cat rt/src/plain)" = plain ] || fail "plain file not restored"

	# Restoring the second archive over the first must not follow them.
	run_bkp restore -r "$REPO" -k "$KEY" "$a2" --target rt
	expect_error_line 'src/(up|abs)' "restore onto existing symlinks without --overwrite"
	outside_unchanged "$BKPT_DIR/before" rt
	run_bkp restore -r "$REPO" -k "$KEY" "$a2" --target rt --overwrite
	outside_unchanged "$BKPT_DIR/before" rt
	if [ "$(_rc)" = 0 ]; then
		[ -d rt/src/up ] && [ ! -L rt/src/up ] && [ "$(cat rt/src/up/x)" = x ] ||
			fail "restore --overwrite succeeded but src/up is not the archive's directory"
		[ ! -L rt/src/up-file ] && [ "$(cat rt/src/up-file)" = z ] ||
			fail "restore --overwrite succeeded but src/up-file is not the archive's file"
	else
		expect_error_line 'src/(up|abs)' "restore --overwrite onto escaping symlinks"
	fi
	return 0
}

# The target itself may be reached through a symlink the user chose; a
# target that does not exist yet is created; a target that is a file is
# refused.
test_restore_target_forms() {
	new_repo
	mkdir src
	echo hi >src/f
	backup_id t src
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target newtarget
	expect_exit 0 "restore into a target that does not exist"
	[ "$(cat newtarget/src/f)" = hi ] || fail "file not restored into a new target"
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target new/deeper/target
	expect_exit 0 "restore into a target whose parents do not exist either"
	[ "$(cat new/deeper/target/src/f)" = hi ] || fail "file not restored into a new target"
	mkdir real
	ln -s real viaLink
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target viaLink
	expect_exit 0 "restore into a target given as a symlink"
	[ "$(cat real/src/f)" = hi ] || fail "file not restored through the target symlink"
	echo file >afile
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target afile
	expect_error_line 'afile'
	[ "$(cat afile)" = file ] || fail "a target that is a file was changed"
}

# A genuinely hostile archive, made with bkp itself: a symlink entry that
# points outside (absolute, and relative with ..), followed by a file entry
# beneath it (the paths src/abs and src/abs/x given on the command line;
# at backup time src/abs/x resolves through the symlink).  Restoring must
# not write through the symlink, whether the file outside exists or not,
# with or without --overwrite.
test_hostile_archive_file_beneath_symlink() {
	mkdir -p w/src victim
	echo original >victim/x
	ln -s "$T/victim" w/src/abs
	ln -s ../../victim w/src/rel
	new_repo
	(cd w && run_bkp backup -r "$REPO" --name hostile src/abs src/abs/x src/rel src/rel/x) || exit 1
	if [ "$(_rc)" != 0 ]; then
		note "backup refused paths beneath a symlink"
		expect_error_line 'src/(abs|rel)'
		return 0
	fi
	ID=$(head -n 1 "$BKPT_DIR/stdout")
	local n mode
	for mode in absent absent-overwrite present present-overwrite; do
		n=rt-$mode
		rm -f victim/x
		case $mode in present*) echo original >victim/x ;; esac
		outside_snapshot "$BKPT_DIR/before" "$n"
		mkdir "$n"
		case $mode in
		*-overwrite) run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target "$n" --overwrite ;;
		*) run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target "$n" ;;
		esac
		outside_unchanged "$BKPT_DIR/before" "$n"
		case $mode in
		present*) [ "$(cat victim/x)" = original ] || fail "restore ($mode) wrote through a symlink into victim/x" ;;
		*) [ ! -e victim/x ] || fail "restore ($mode) created victim/x through a symlink" ;;
		esac
		if [ "$(_rc)" = 0 ]; then
			# Accepted: then the entries landed inside the target, as a
			# directory replacing the symlink.
			[ -d "$n/src/abs" ] && [ ! -L "$n/src/abs" ] && [ "$(cat "$n/src/abs/x")" = original ] ||
				fail "restore ($mode) succeeded but src/abs/x is not inside the target"
		else
			expect_error_line 'src/(abs|rel)/x' "restore ($mode) of a file beneath an escaping symlink"
		fi
	done
	return 0
}

# Paths with .. given to backup: stored so that a restore (into a target at
# the same depth as the source's cwd) writes only inside the target.
test_backup_paths_with_dotdot_stay_inside_target() {
	mkdir -p w/src victim a
	echo orig >victim/x
	echo s >w/src/f
	new_repo
	(cd w && run_bkp backup -r "$REPO" --name dots ../victim src/../../victim/x ./src/./f) || exit 1
	if [ "$(_rc)" != 0 ]; then
		note "backup refused paths with .."
		expect_error_line '\.\.'
		return 0
	fi
	ID=$(head -n 1 "$BKPT_DIR/stdout")
	echo changed >victim/x
	outside_snapshot "$BKPT_DIR/before" a/rt
	run_bkp restore -r "$REPO" -k "$KEY" "$ID" --target a/rt --overwrite
	outside_unchanged "$BKPT_DIR/before" a/rt
	[ "$(cat victim/x)" = changed ] || fail "restore wrote victim/x outside the target"
	[ "$(find a/rt -type f -name x | wc -l)" -ge 1 ] || fail "victim/x not restored inside the target"
	[ "$(cat a/rt/src/f 2>/dev/null)" = s ] || fail "./src/./f not restored as src/f"
}
