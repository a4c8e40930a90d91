build-dev/history/history_json.o: history/history_json.c \
 history/history.h util/resource.h util/error.h util/jsonutil.h \
 util/timeutil.h
history/history.h:
util/resource.h:
util/error.h:
util/jsonutil.h:
util/timeutil.h:
