build-dev/forecast/forecast.o: forecast/forecast.c forecast/forecast.h \
 history/history.h util/resource.h util/error.h
forecast/forecast.h:
history/history.h:
util/resource.h:
util/error.h:
