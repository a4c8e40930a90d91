build-dev/cmd/profile.o: cmd/profile.c cmd/cmd.h history/profiler.h \
 util/resource.h util/buf.h util/error.h util/timeutil.h
cmd/cmd.h:
history/profiler.h:
util/resource.h:
util/buf.h:
util/error.h:
util/timeutil.h:
