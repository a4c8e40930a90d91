build-dev/cmd/history.o: cmd/history.c cmd/cmd.h plans/store.h \
 util/error.h util/timeutil.h
cmd/cmd.h:
plans/store.h:
util/error.h:
util/timeutil.h:
