build-dev/history/history.o: history/history.c history/history.h \
 util/resource.h util/error.h util/timeutil.h
history/history.h:
util/resource.h:
util/error.h:
util/timeutil.h:
