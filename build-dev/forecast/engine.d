build-dev/forecast/engine.o: forecast/engine.c forecast/forecast.h \
 history/history.h util/resource.h util/error.h
forecast/forecast.h:
history/history.h:
util/resource.h:
util/error.h:
