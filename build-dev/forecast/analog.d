build-dev/forecast/analog.o: forecast/analog.c forecast/forecast.h \
 history/history.h util/resource.h util/error.h
forecast/forecast.h:
history/history.h:
util/resource.h:
util/error.h:
