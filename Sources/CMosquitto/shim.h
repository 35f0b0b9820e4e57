#ifndef INGESTD_CMOSQUITTO_SHIM_H
#define INGESTD_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#include <mqtt_protocol.h>
#endif
